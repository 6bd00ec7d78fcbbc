"""Replay: a recorded dialogue, turn by turn, against a model — the logic behind `resto replay`.

At every assistant turn of the recording the model gets the same prefix (the gold history, as
the TFT benchmark scores it) and its call is set beside the reference call, with the benchmark's
staged_tool_call score and a diff of the arguments. Tool results in the prefix come from the
recording, or (`live_db=True`) are recomputed against the live database (dry run: replay never
books anything).

Dialogues: SGD single-domain Restaurants_1 dialogues (`1_00000`, converted to the benchmark's
message format) and the benchmark's 34 test conversations (`test-00` … `test-33`).
This module has no Textual code: `--no-tui` and the replay screen share it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent.conversation import Message, ToolCall, dump_results, is_tool_call_message, normalize_messages
from agent.name_check import unbacked_names
from agent.settings import Settings
from agent.tools import SERVICE_TOOLS
from backend.errors import UserError
from eval.metrics import staged_tool_call
from train.sgd_traces import dialogue_to_messages  # the one SGD → benchmark-format rule

BENCHMARK_TEST = Path("scenario-1-baseline/tft/test.jsonl")  # identical in every scenario


@dataclass
class Dialogue:
    id: str
    source: str  # "sgd" or "benchmark"
    messages: list[Message]

    @property
    def title(self) -> str:
        first = next((m.get("content", "") for m in self.messages if m.get("role") == "user"), "")
        return " ".join(str(first).split())[:70]

    def text(self) -> str:
        """Everything a search can match: user texts and assistant messages."""
        parts = [str(m.get("content", "")) for m in self.messages if m.get("role") == "user"]
        parts += [c.message or "" for c in (ToolCall.from_message(m) for m in self.messages if is_tool_call_message(m))]
        return "\n".join(parts)

    def assistant_turns(self) -> list[int]:
        """Indexes of the assistant messages (one call each): the steps of a replay."""
        return [i for i, m in enumerate(self.messages) if is_tool_call_message(m)]


# -- loading dialogues -----------------------------------------------------------------------------------
def iter_sgd(sgd_dir: Path) -> Iterator[Dialogue]:
    for split in ("train", "dev", "test"):
        for path in sorted((sgd_dir / split).glob("dialogues_*.json")):
            for raw in json.loads(path.read_text(encoding="utf-8")):
                if raw.get("services") == ["Restaurants_1"]:
                    yield Dialogue(raw["dialogue_id"], "sgd", dialogue_to_messages(raw))


def benchmark_dialogues(benchmark_dir: Path) -> list[Dialogue]:
    from agent.trace_io import read_traces

    path = benchmark_dir / BENCHMARK_TEST
    if not path.is_file():
        return []
    traces, _ = read_traces(path)
    return [Dialogue(f"test-{i:02d}", "benchmark", t.messages) for i, t in enumerate(traces)]


class DialogueIndex:
    """All replayable dialogues of a data directory, loaded once."""

    def __init__(self, settings: Settings):
        data = settings.require_data_dir()
        self.dialogues: list[Dialogue] = benchmark_dialogues(data / "tft-benchmark") + list(iter_sgd(data / "sgd"))
        self._by_id = {d.id: d for d in self.dialogues}

    def get(self, dialogue_id: str) -> Dialogue:
        if dialogue_id in self._by_id:
            return self._by_id[dialogue_id]
        raise UserError(
            f"No dialogue {dialogue_id!r}: use an SGD Restaurants_1 id like 1_00000 or a benchmark test "
            "conversation test-00 … test-33 (or --search TEXT)."
        )

    def search(self, text: str | None, limit: int = 200) -> list[Dialogue]:
        if not text:
            return self.dialogues[:limit]
        needle = text.lower()
        hits = [d for d in self.dialogues if d.id.lower().startswith(needle) or needle in d.text().lower()]
        return hits[:limit]


# -- comparing -------------------------------------------------------------------------------------------
@dataclass
class ArgDiff:
    key: str
    reference: Any
    prediction: Any
    status: str  # "same", "changed", "missing" (only in the reference), "extra" (only in the prediction)


@dataclass
class StepResult:
    dialogue_id: str
    step: int  # 0-based assistant turn
    message_index: int
    reference: ToolCall
    prediction: ToolCall | None
    raw: str
    error: str | None
    score: float
    diff: list[ArgDiff] = field(default_factory=list)
    latency_s: float = 0.0
    unbacked: list[str] = field(default_factory=list)  # restaurants the model's reply names that nothing gave

    def to_json(self) -> dict[str, Any]:
        def call(c: ToolCall | None) -> dict[str, Any] | None:
            return None if c is None else {"name": c.name, "arguments": c.arguments}

        return {
            "dialogue_id": self.dialogue_id,
            "step": self.step,
            "reference": call(self.reference),
            "prediction": call(self.prediction),
            "raw": self.raw,
            "error": self.error,
            "staged_tool_call": self.score,
            "diff": [asdict(d) for d in self.diff if d.status != "same"],
            "latency_s": round(self.latency_s, 4),
            "unbacked": self.unbacked,
        }


def arg_diff(reference: dict[str, Any], prediction: dict[str, Any]) -> list[ArgDiff]:
    out = []
    for key in list(reference) + [k for k in prediction if k not in reference]:
        if key not in prediction:
            out.append(ArgDiff(key, reference[key], None, "missing"))
        elif key not in reference:
            out.append(ArgDiff(key, None, prediction[key], "extra"))
        else:
            same = reference[key] == prediction[key]
            out.append(ArgDiff(key, reference[key], prediction[key], "same" if same else "changed"))
    return out


def prefix_for(dialogue: Dialogue, message_index: int, engine: Any | None = None) -> list[Message]:
    """The messages before an assistant turn; with `engine`, service results recomputed live (dry run)."""
    prefix = normalize_messages(dialogue.messages[:message_index])
    if engine is None:
        return prefix
    import backend.tools

    for i, msg in enumerate(prefix):
        if i and msg.get("role") in ("user", "tool") and is_tool_call_message(prefix[i - 1]):
            call = ToolCall.from_message(prefix[i - 1])
            if call.name in SERVICE_TOOLS:
                outcome = backend.tools.execute(engine, call.name, call.arguments, dry_run=True)
                msg["content"] = dump_results(list(outcome.results))
    return prefix


def compare_step(
    dialogue: Dialogue, step: int, policy: Any, engine: Any | None = None, cancel=None, gazetteer: Any | None = None
) -> StepResult:
    """The model's call at assistant turn `step` beside the reference's. With `gazetteer`
    (agent.grounding.Gazetteer of the restaurant database), a reply of the model's is also checked for
    restaurants the conversation never gave (agent.name_check), as the chat does."""
    index = dialogue.assistant_turns()[step]
    reference = ToolCall.from_message(dialogue.messages[index])
    prefix = prefix_for(dialogue, index, engine)
    try:
        out = policy.next_call(prefix, cancel=cancel)
        prediction, raw, error, latency = out.call, out.raw_text, out.error, out.latency_s
    except Exception as exc:  # noqa: BLE001 - a failing model is a scored miss, not a crash
        prediction, raw, error, latency = None, "", f"{type(exc).__name__}: {exc}", 0.0
    predicted = prediction.to_answer() if prediction is not None else raw
    score = staged_tool_call(reference.to_answer(), predicted)
    diff = arg_diff(reference.arguments, prediction.arguments if prediction else {})
    unbacked = []
    if gazetteer is not None and prediction is not None and prediction.message is not None:
        unbacked = unbacked_names(prediction.message, prefix, gazetteer)
    return StepResult(dialogue.id, step, index, reference, prediction, raw, error, score, diff, latency, unbacked)


@dataclass
class Summary:
    dialogue_id: str
    steps: int
    mean_staged: float
    exact: int  # score 1.0
    name_correct: int  # score >= 0.5
    by_function: dict[str, dict[str, float]]

    def to_json(self) -> dict[str, Any]:
        return {"summary": asdict(self)}


def summarize(dialogue_id: str, results: list[StepResult]) -> Summary:
    by_fn: dict[str, list[float]] = {}
    for r in results:
        by_fn.setdefault(r.reference.name, []).append(r.score)
    n = len(results)
    return Summary(
        dialogue_id,
        n,
        round(sum(r.score for r in results) / n, 4) if n else 0.0,
        sum(r.score == 1.0 for r in results),
        sum(r.score >= 0.5 for r in results),
        {k: {"steps": len(v), "mean_staged": round(sum(v) / len(v), 4)} for k, v in sorted(by_fn.items())},
    )


def run_dialogue(
    dialogue: Dialogue, policy: Any, engine: Any | None = None, gazetteer: Any | None = None
) -> Iterator[StepResult]:
    for step in range(len(dialogue.assistant_turns())):
        yield compare_step(dialogue, step, policy, engine, gazetteer=gazetteer)


def name_gazetteer(settings: Settings, policy: Any = None) -> Any | None:
    """The restaurant database's names for the replay's check of made-up names, or None when the
    database is not built or cannot be read (the replay itself never needs it). A grounded policy has
    read them already (`policy.grounding`): those are shared, not read a second time."""
    from agent.grounding import Gazetteer, policy_gazetteer

    if (shared := policy_gazetteer(policy)) is not None:
        return shared
    try:
        return Gazetteer.from_url(settings.db_url)
    except UserError:
        return None


@dataclass
class ReplaySetup:
    """What the replay screen / --no-tui need: the dialogues, the model, where results come from."""

    index: DialogueIndex
    policy: Any
    engine: Any | None = None  # set: tool results from the live database
    dialogue_id: str | None = None
    search: str | None = None
    gazetteer: Any | None = None  # set: the model's replies are checked for made-up restaurant names
