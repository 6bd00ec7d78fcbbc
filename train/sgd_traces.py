"""SGD dialogues → traces, with the rule that reproduces the TFT benchmark's S1 traces exactly.

    resto traces from-sgd --services Restaurants_1 --single-domain --out traces.jsonl

Conversion of one dialogue, turn by turn:
- a USER turn → a user message with its utterance;
- a SYSTEM turn whose frame has a `service_call` → an assistant call `name = method`,
  `arguments = parameters` (as they are: SGD's canonical slot values), then a user message with
  `json.dumps` of ALL the frame's `service_results`, then `respond_to_user(message=<utterance>)`;
- any other SYSTEM turn → `respond_to_user(message=<utterance>)`.

Selection of the benchmark's 327 S1 traces (found by matching every published trace to SGD, see
tests/train/test_sgd_traces.py): the single-domain `Restaurants_1` dialogues of SGD's train split
in file order (dialogues_001.json … by position in each file; 367 of them), shuffled with
`random.Random(123).shuffle`; the first 40 are held out (the benchmark's 34 test conversations
come from them) and the remaining 327, in shuffled order, are the traces.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.conversation import Message, ToolCall, user_message
from agent.trace_io import Trace

S1_SHUFFLE_SEED = 123
S1_HELD_OUT = 40
SPLITS = ("train", "dev", "test")


@dataclass
class Dialogue:
    """One SGD dialogue as read from disk (`raw` is the JSON object)."""

    dialogue_id: str
    services: list[str]
    split: str
    raw: dict[str, Any]

    @property
    def turns(self) -> list[dict[str, Any]]:
        return self.raw["turns"]


def iter_dialogues(sgd_dir: str | Path, split: str = "train") -> Iterator[Dialogue]:
    """Dialogues of one split in file order (dialogues_001.json, …, then position in each file)."""
    folder = Path(sgd_dir) / split
    if not folder.is_dir():
        raise FileNotFoundError(f"no SGD split folder {folder}")
    for path in sorted(folder.glob("dialogues_*.json")):
        for raw in json.loads(path.read_text(encoding="utf-8")):
            yield Dialogue(raw["dialogue_id"], list(raw["services"]), split, raw)


def select_dialogues(
    dialogues: Iterable[Dialogue], services: Iterable[str] = ("Restaurants_1",), single_domain: bool = False
) -> list[Dialogue]:
    """Dialogues that involve any of `services` (with `single_domain`: exactly one of them, alone)."""
    wanted = set(services)
    out = []
    for d in dialogues:
        if single_domain:
            if len(d.services) == 1 and d.services[0] in wanted:
                out.append(d)
        elif wanted.intersection(d.services):
            out.append(d)
    return out


def dialogue_to_messages(dialogue: Dialogue | dict[str, Any]) -> list[Message]:
    """The conversion rule (module docstring)."""
    raw = dialogue.raw if isinstance(dialogue, Dialogue) else dialogue
    key = str(raw.get("dialogue_id", ""))
    messages: list[Message] = []

    def call(name: str, arguments: dict[str, Any]) -> Message:
        # deterministic ids, so regenerated files are byte-identical for the same seed
        digest = hashlib.sha1(f"{key}:{len(messages)}".encode()).hexdigest()[:12]
        return ToolCall(name, arguments, id=f"call_{digest}").to_message()

    for turn in raw["turns"]:
        if turn["speaker"] == "USER":
            messages.append(user_message(turn["utterance"]))
            continue
        for frame in turn.get("frames", []):
            service = frame.get("service_call")
            if not service:
                continue
            messages.append(call(service["method"], dict(service["parameters"])))
            messages.append(user_message(json.dumps(frame.get("service_results", []))))
        messages.append(call("respond_to_user", {"message": turn["utterance"]}))
    return messages


def dialogue_to_trace(dialogue: Dialogue) -> Trace:
    meta = {"dialogue_id": dialogue.dialogue_id, "services": dialogue.services, "split": dialogue.split}
    return Trace(dialogue_to_messages(dialogue), meta)


def s1_split(sgd_dir: str | Path, seed: int = S1_SHUFFLE_SEED, held_out: int = S1_HELD_OUT) -> tuple[list[Dialogue], list[Dialogue]]:
    """(training dialogues, held-out dialogues) of the benchmark's S1 selection.

    With the default seed and split this is exactly the published S1 (327 train, 40 held out)."""
    pool = select_dialogues(iter_dialogues(sgd_dir, "train"), ["Restaurants_1"], single_domain=True)
    random.Random(seed).shuffle(pool)
    return pool[held_out:], pool[:held_out]


def s1_traces(sgd_dir: str | Path, seed: int = S1_SHUFFLE_SEED) -> list[Trace]:
    """The S1 training traces, in the benchmark's order."""
    train, _ = s1_split(sgd_dir, seed)
    return [dialogue_to_trace(d) for d in train]


def traces_from_sgd(
    sgd_dir: str | Path,
    services: Iterable[str] = ("Restaurants_1",),
    single_domain: bool = False,
    splits: Iterable[str] = ("train",),
) -> list[Trace]:
    """Every matching dialogue of the given splits, in file order, converted."""
    out: list[Trace] = []
    for split in splits:
        for d in select_dialogues(iter_dialogues(sgd_dir, split), services, single_domain):
            out.append(dialogue_to_trace(d))
    return out


def system_utterances(dialogues: Iterable[Dialogue]) -> list[str]:
    """Every SYSTEM utterance of the dialogues, in order (pools for the scenarios' corruptions)."""
    return [t["utterance"] for d in dialogues for t in d.turns if t["speaker"] == "SYSTEM"]


def service_calls(dialogues: Iterable[Dialogue]) -> list[ToolCall]:
    """Every service call of the dialogues, in order."""
    out = []
    for d in dialogues:
        for t in d.turns:
            for f in t.get("frames", []):
                if f.get("service_call"):
                    out.append(ToolCall(f["service_call"]["method"], dict(f["service_call"]["parameters"])))
    return out
