"""More restaurant conversations from SGD: the restaurant part of multi-domain dialogues.

    traces = restaurant_segments_traces(sgd_dir)        # 515 extra traces from SGD's train split

S1 is the 367 *single-domain* Restaurants_1 dialogues (327 for training, 40 held out, which hold the
benchmark's 34 test conversations). SGD's train split has 1,205 more dialogues in which a user
looks for or books a table before or after another task (the weather, a movie, a flight…). Their restaurant part
follows the same policy, so it is more of exactly the data the S1 traces are, for the demo model,
which overfits 327 conversations (`resto model demo --sgd-segments`).

A segment starts at the first USER turn with a Restaurants_1 frame (the turn that switches to
restaurants may still carry the other service's frame too) and runs while every SYSTEM turn is
Restaurants_1 only; it ends at its last such SYSTEM turn. It is converted with S1's rule
(`train.sgd_traces.dialogue_to_messages`). Segments that lean on the earlier task are dropped: a
call whose `city` neither the segment's user turns nor its tool results mention ("find a restaurant
there" after a weather question) would teach the model to search before the user has said where.
Only the city is checked: SGD canonicalises cuisines ("burger" → American) and shortens names, so
a stricter rule would drop much of S1 itself (81% of the S1 traces pass the city rule). Of the 1,283
segments, 515 pass (tests/train/test_sgd_segments.py checks these counts). None of these dialogues is single-domain,
so none is an S1 or a held-out test dialogue.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from agent.trace_io import Trace
from train.sgd_traces import Dialogue, dialogue_to_messages, iter_dialogues, select_dialogues

SERVICE = "Restaurants_1"
GROUNDED_KEYS = ("city",)
MIN_TURNS = 4


def _services(turn: dict) -> set[str]:
    return {frame.get("service") for frame in turn.get("frames", [])}


def segments(dialogue: Dialogue, service: str = SERVICE) -> list[Dialogue]:
    """The contiguous `service` parts of a dialogue, each a Dialogue of its own (USER first, SYSTEM last)."""
    out: list[Dialogue] = []
    turns = dialogue.turns
    i = 0
    while i < len(turns):
        if not (turns[i]["speaker"] == "USER" and service in _services(turns[i])):
            i += 1
            continue
        j = i + 1
        while j < len(turns):
            speaker, services = turns[j]["speaker"], _services(turns[j])
            if (speaker == "SYSTEM" and services != {service}) or (speaker == "USER" and service not in services):
                break
            j += 1
        part = turns[i:j]
        while part and part[-1]["speaker"] != "SYSTEM":
            part = part[:-1]
        if len(part) >= MIN_TURNS:
            raw = {**dialogue.raw, "dialogue_id": f"{dialogue.dialogue_id}#{i}", "turns": part, "services": [service]}
            out.append(Dialogue(raw["dialogue_id"], [service], dialogue.split, raw))
        i = max(j, i + 1)
    return out


def grounded(messages: list[dict]) -> bool:
    """True when every service call's `city` was said by the user or returned by a tool earlier in
    the conversation (case-insensitive)."""
    seen = ""
    for message in messages:
        if message.get("role") == "user":
            seen += "\n" + str(message.get("content", "")).lower()
            continue
        for call in message.get("tool_calls") or []:
            function = call.get("function", call)
            if function.get("name") == "respond_to_user":
                continue
            args = function.get("arguments")
            args = json.loads(args) if isinstance(args, str) else args or {}
            for key in GROUNDED_KEYS:
                value = args.get(key)
                if isinstance(value, str) and value.lower() not in seen:
                    return False
    return True


def restaurant_segments_traces(sgd_dir: str | Path, splits: Iterable[str] = ("train",)) -> list[Trace]:
    """Traces of the grounded restaurant segments of every multi-domain Restaurants_1 dialogue."""
    out: list[Trace] = []
    for split in splits:
        for dialogue in select_dialogues(iter_dialogues(sgd_dir, split), [SERVICE]):
            if len(dialogue.services) < 2:
                continue  # single-domain: S1 and its held-out test dialogues
            for part in segments(dialogue):
                messages = dialogue_to_messages(part)
                if grounded(messages):
                    out.append(Trace(messages, {"dialogue_id": part.dialogue_id, "split": split}))
    return out
