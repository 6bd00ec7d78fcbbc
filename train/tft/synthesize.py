"""Stage 3, Synthesize: the teacher writes whole new conversations, using traces as context.

Each teacher call k sees the task, the tools, `seeds_per_call` relabelled seed traces,
`unlabelled_per_call` filtered (not relabelled) traces, one sampled `mutation_topics` entry and —
when a database is configured — the real restaurants for two (city, cuisine) searches of the seeds
(so the tool results it writes survive Validate's execution check), and writes
`generation_in_single_call` conversations. Calls continue, in parallel batches, until
`generation_target` conversations pass the cheap checks (structure, schema, grounding) or
`max_synthesis_calls` is reached.

Resumable: what call k shows is drawn from a generator seeded by (seed, k), and each finished call's
conversations are appended to items.jsonl (ids `s<k>-<j>`) before the next batch starts, so a
resumed run skips finished calls entirely; a call in flight when the run was killed is answered
from the response cache if it had completed, else asked again.
"""

from __future__ import annotations

import json
import random
from typing import Any

from agent.conversation import Message, ToolCall, dump_results
from agent.llm_client import LLMError
from train.tft.checks import conversation_problems
from train.tft.context import StageContext
from train.tft.prompts import ReplyError, parse_json_reply, reply_text, synth_messages
from train.tft.stage_io import Item, StageRun
from train.tft.validate import Executor

CATALOG_SEARCHES = 2  # (city, cuisine) searches whose real results are shown per call
CATALOG_ROWS = 10  # rows shown per search


def to_messages(raw: Any) -> list[Message]:
    """The teacher's conversation format (see prompts.SYNTH_FORMAT) → our messages; also accepts
    OpenAI-style assistant messages. Raises ReplyError with the reason."""
    if isinstance(raw, dict):
        raw = raw.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ReplyError("conversation has no messages list")
    out: list[Message] = []
    for i, msg in enumerate(raw):
        if not isinstance(msg, dict):
            raise ReplyError(f"message {i} is not an object")
        role = msg.get("role")
        if role == "assistant":
            if msg.get("tool_calls"):
                try:
                    call = ToolCall.from_message(msg)
                except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
                    raise ReplyError(f"message {i}: bad tool call: {exc}") from None
            else:
                spec = msg.get("call") if isinstance(msg.get("call"), dict) else msg
                name, args = spec.get("name"), spec.get("arguments", spec.get("parameters", {}))
                if isinstance(args, str):
                    try:
                        args = json.loads(args)
                    except json.JSONDecodeError:
                        raise ReplyError(f"message {i}: arguments are not JSON") from None
                if not isinstance(name, str) or not isinstance(args, dict):
                    raise ReplyError(f"message {i}: assistant turn without a call")
                call = ToolCall(name, args)
            out.append(call.to_message())
        elif role in ("tool_result", "tool"):
            results = msg.get("results", msg.get("content"))
            if isinstance(results, str):
                try:
                    results = json.loads(results)
                except json.JSONDecodeError:
                    raise ReplyError(f"message {i}: tool result is not JSON") from None
            if isinstance(results, dict):
                results = [results]
            if not isinstance(results, list):
                raise ReplyError(f"message {i}: tool result is not a list")
            out.append({"role": "user", "content": dump_results(results)})
        elif role == "user" and isinstance(msg.get("content"), str):
            out.append({"role": "user", "content": msg["content"]})
        else:
            raise ReplyError(f"message {i} has role {role!r} or no content")
    return out


def seed_searches(seeds: list[Item]) -> list[dict[str, str]]:
    """The distinct (city, cuisine) FindRestaurants searches of the seeds, in a stable order."""
    found = set()
    for seed in seeds:
        for msg in seed.messages:
            if msg.get("role") == "assistant" and msg.get("tool_calls"):
                call = ToolCall.from_message(msg)
                if call.name == "FindRestaurants" and {"city", "cuisine"} <= call.arguments.keys():
                    found.add((str(call.arguments["city"]), str(call.arguments["cuisine"])))
    return [{"city": city, "cuisine": cuisine} for city, cuisine in sorted(found)]


def catalog_rows(execute: Executor, searches: list[dict[str, str]], rng: random.Random) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for args in rng.sample(searches, min(CATALOG_SEARCHES, len(searches))):
        results, error = execute("FindRestaurants", args)
        if not error:
            rows += results[:CATALOG_ROWS]
    return rows


def plan_call(
    ctx: StageContext, k: int, seeds: list[Item], unlabelled: list[Item], execute: Executor | None = None
) -> tuple[list[Message], dict[str, Any]]:
    """Call k's prompt and what it was built from; deterministic in (seed, k), so a resumed run
    asks exactly the same (and hits the response cache)."""
    cfg = ctx.config
    rng = random.Random(f"{cfg.tft.seed}-{k}")
    chosen = rng.sample(seeds, min(cfg.tft.seeds_per_call, len(seeds)))
    context = rng.sample(unlabelled, min(cfg.tft.unlabelled_per_call, len(unlabelled)))
    topic = rng.choice(cfg.synthgen.mutation_topics) if cfg.synthgen.mutation_topics else None
    catalog = catalog_rows(execute, seed_searches(seeds), rng) if execute is not None else None
    prompt = synth_messages(
        ctx.job.task,
        ctx.job.tools,
        [s.messages for s in chosen],
        [u.messages for u in context],
        topic,
        cfg.synthgen.generation_in_single_call,
        k,
        catalog,
    )
    return prompt, {"call": k, "topic": topic, "seeds": [s.id for s in chosen], "context": [u.id for u in context]}


def call_items(ctx: StageContext, k: int, response: Any, topic_meta: dict[str, Any]) -> list[Item]:
    """The items one teacher call yields: one per conversation, or one dropped item saying why."""
    base = f"s{k:05d}"
    if isinstance(response, LLMError):
        return [Item(f"{base}-x", [], keep=False, reason=f"llm-error: teacher: {response}", meta=topic_meta)]
    try:
        reply = parse_json_reply(reply_text(response))
        convs = reply.get("conversations")
        if convs is None and "messages" in reply:
            convs = [reply]
        if not isinstance(convs, list) or not convs:
            raise ReplyError("reply has no 'conversations' list")
    except ReplyError as exc:
        return [Item(f"{base}-x", [], keep=False, reason=f"malformed: {exc}", meta=topic_meta)]
    items = []
    for j, raw in enumerate(convs[: ctx.config.synthgen.generation_in_single_call]):
        try:
            messages = to_messages(raw)
        except ReplyError as exc:
            items.append(Item(f"{base}-{j}", [], keep=False, reason=f"malformed: {exc}", meta=topic_meta))
            continue
        problems = conversation_problems(messages, ctx.job.tools)
        item = Item(f"{base}-{j}", messages, meta=dict(topic_meta))
        if problems:
            item.keep, item.reason = False, f"invalid: {'; '.join(problems[:3])}"
        items.append(item)
    return items


def run_synthesize(
    ctx: StageContext, seeds: list[Item], unlabelled: list[Item], out: StageRun, execute: Executor | None = None
) -> dict[str, Any]:
    cfg = ctx.config
    if not seeds:
        raise ValueError("no relabelled seed traces survived: nothing to synthesize from")
    target = cfg.synthgen.generation_target
    per_call = cfg.synthgen.generation_in_single_call
    max_calls = cfg.tft.max_synthesis_calls or 3 * -(-target // per_call)
    teacher = ctx.client(cfg.teacher)
    batch = teacher.config.max_concurrency if cfg.synthgen.parallel_llm_calls else 1
    finished = {int(i.split("-")[0][1:]) for i in out.done}
    valid = sum(1 for i in out.done.values() if i.keep)
    k, calls = 0, 0
    while valid < target and k < max_calls:
        todo: list[int] = []
        # enough calls to reach the target if each yields its conversations, bounded by the batch
        need = -(-(target - valid) // per_call)
        while len(todo) < min(batch, need) and k < max_calls:
            if k not in finished:
                todo.append(k)
            k += 1
        if not todo:
            break
        plans = [plan_call(ctx, n, seeds, unlabelled, execute) for n in todo]
        requests = [ctx.request(prompt, temperature=cfg.tft.temperature) for prompt, _ in plans]
        for n, (_, meta), response in zip(todo, plans, teacher.chat_many(requests), strict=True):
            for item in call_items(ctx, n, response, meta):
                out.write(item)
                valid += item.keep
        calls += len(todo)
    return {"teacher": cfg.teacher, "target": target, "valid": valid, "calls_this_run": calls,
            "reached_target": valid >= target}
