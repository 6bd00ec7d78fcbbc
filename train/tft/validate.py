"""Stage 4, Validate: deterministic checks of every synthetic conversation; no LLM involved.

In order (the first failing check is the reason):
1. structure / schema / grounding (`checks.conversation_problems`);
2. length: `len(json.dumps(messages))` at most `synthgen.validation_max_total_length`;
3. execution: every service call is run against the restaurant database (`backend.tools.execute`
   with `dry_run=True`, on a fresh copy of the DB in the stage folder) and the results the
   conversation shows must agree: same success or error, and every restaurant it shows must be one
   the DB returns for those arguments;
4. near-duplicates: Jaccard similarity of word 3-gram shingles against the seeds and the
   conversations kept before it, at or above `tft.near_duplicate_threshold`.
The stage is cheap, so it always runs afresh.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.conversation import Message, ToolCall
from agent.tools import RESPOND_TO_USER
from backend.errors import UserError
from train.tft.checks import conversation_problems
from train.tft.context import StageContext
from train.tft.prompts import is_result_message
from train.tft.stage_io import Item, StageRun

# (name, arguments) → (results, error or None)
Executor = Callable[[str, dict[str, Any]], tuple[list[dict[str, Any]], str | None]]
_WORD = re.compile(r"\w+")
FIND_LIMIT = 100  # claimed results are compared with everything the DB has for the arguments


def shingles(messages: list[Message], n: int = 3) -> frozenset[str]:
    text = []
    for msg in messages:
        if msg.get("role") == "assistant":
            call = ToolCall.from_message(msg)
            text.append(call.message or f"{call.name} {json.dumps(call.arguments, sort_keys=True)}")
        elif not is_result_message(msg):
            text.append(str(msg.get("content", "")))
    words = _WORD.findall(" ".join(text).lower())
    return frozenset(" ".join(words[i : i + n]) for i in range(max(1, len(words) - n + 1)))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _names(results: list[Any]) -> set[str]:
    return {str(r["restaurant_name"]).lower() for r in results if isinstance(r, dict) and r.get("restaurant_name")}


def execution_problems(messages: list[Message], execute: Executor) -> list[str]:
    problems = []
    for i, msg in enumerate(messages[:-1]):
        if msg.get("role") != "assistant":
            continue
        call = ToolCall.from_message(msg)
        if call.name == RESPOND_TO_USER:
            continue
        try:
            claimed = json.loads(messages[i + 1].get("content") or "[]")
        except json.JSONDecodeError:
            problems.append(f"execution: result of {call.name} at {i} is not JSON")
            continue
        claimed = claimed if isinstance(claimed, list) else [claimed]
        claimed_error = any(isinstance(r, dict) and "error" in r for r in claimed)
        results, error = execute(call.name, call.arguments)
        if error:
            if claimed and not claimed_error:
                problems.append(f"execution: {call.name} at {i} fails in the DB ({error}) but results are shown")
            continue
        if claimed_error:
            problems.append(f"execution: {call.name} at {i} succeeds in the DB but an error is shown")
            continue
        if not claimed and results:
            problems.append(f"execution: {call.name} at {i} shows no results; the DB has {len(results)}")
            continue
        unknown = _names(claimed) - _names(results)
        if unknown:
            problems.append(f"execution: {call.name} at {i} shows {sorted(unknown)[:3]}, not in the DB's results")
    return problems


def db_executor(db_url: str, workdir: Path) -> Executor:
    """Run calls with BACKEND's tools on a fresh copy of the DB (dry_run: nothing is written)."""
    from backend.db import make_engine
    from backend.tools import execute

    if db_url.startswith("sqlite:///"):
        source = Path(db_url.removeprefix("sqlite:///"))
        if not source.exists():
            raise UserError(f"database {source} does not exist: run `resto db build` (or set tft.db)")
        copy = workdir / "validate.db"
        shutil.copyfile(source, copy)
        db_url = f"sqlite:///{copy.resolve()}"
    engine = make_engine(db_url)

    def run(name: str, arguments: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        outcome = execute(engine, name, arguments, dry_run=True, limit=FIND_LIMIT)
        return list(outcome.results), outcome.error

    return run


def validate_items(
    candidates: list[Item],
    seeds: list[Item],
    tools: list[dict[str, Any]],
    max_length: int,
    threshold: float,
    execute: Executor | None,
) -> list[Item]:
    seen: list[tuple[str, frozenset[str]]] = [(s.id, shingles(s.messages)) for s in seeds]
    out = []
    for cand in candidates:
        item = Item(cand.id, cand.messages, meta=dict(cand.meta))
        problems = conversation_problems(item.messages, tools)
        length = len(json.dumps(item.messages))
        if not problems and length > max_length:
            problems = [f"too-long: {length} > {max_length} characters"]
        if not problems and execute is not None:
            problems = execution_problems(item.messages, execute)
        sig = shingles(item.messages)
        if not problems:
            best = max(((jaccard(sig, s), sid) for sid, s in seen), default=(0.0, ""))
            if best[0] >= threshold:
                problems = [f"near-duplicate: of {best[1]} (jaccard {best[0]:.2f})"]
        if problems:
            item.keep, item.reason = False, "; ".join(problems[:3])
        else:
            item.reason = "ok"
            seen.append((item.id, sig))
        out.append(item)
    return out


def run_validate(ctx: StageContext, candidates: list[Item], seeds: list[Item], out: StageRun,
                 db_url: str | None) -> dict[str, Any]:
    cfg = ctx.config
    execute = db_executor(db_url, out.dir) if cfg.tft.execute_calls and db_url else None
    for item in validate_items(candidates, seeds, ctx.job.tools, cfg.synthgen.validation_max_total_length,
                               cfg.tft.near_duplicate_threshold, execute):
        out.write(item)
    return {"executed_calls": execute is not None}
