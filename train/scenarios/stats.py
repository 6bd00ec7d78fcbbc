"""Statistics of a traces file, and of its corruptions relative to clean reference traces.

    resto traces stats FILE [--reference S1_FILE]

`trace_stats` describes any traces: sizes, the share of each function, parameter names, and how
many conversations are well-ordered (start with a user message; each service call is followed by
its result). `corruption_stats` aligns every trace with the clean trace that has the same user
messages and counts which calls differ and how (the S2/S3 numbers quoted in the scenario modules).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from agent.conversation import Message, ToolCall, is_tool_call_message
from agent.trace_io import Trace

RESPOND = "respond_to_user"


def _calls(messages: list[Message]) -> list[ToolCall]:
    return [ToolCall.from_message(m) for m in messages if is_tool_call_message(m)]


def well_ordered(messages: list[Message]) -> bool:
    """Starts with the user; no two assistant calls in a row unless the first was respond_to_user…
    precisely: every call other than respond_to_user is followed by a user message (its result),
    and every respond_to_user is followed by a user message or ends the conversation."""
    if not messages or messages[0].get("role") != "user":
        return False
    for i, m in enumerate(messages):
        if not is_tool_call_message(m):
            continue
        call = ToolCall.from_message(m)
        nxt = messages[i + 1] if i + 1 < len(messages) else None
        if call.name != RESPOND and (nxt is None or nxt.get("role") != "user"):
            return False
        if i > 0 and is_tool_call_message(messages[i - 1]) and ToolCall.from_message(messages[i - 1]).name == RESPOND:
            return False
    return True


def trace_stats(traces: list[Trace]) -> dict[str, Any]:
    names: Counter[str] = Counter()
    params: Counter[str] = Counter()
    n_messages = 0
    ordered = 0
    for t in traces:
        n_messages += len(t.messages)
        ordered += well_ordered(t.messages)
        for call in _calls(t.messages):
            names[call.name] += 1
            params.update(call.arguments.keys())
    calls = sum(names.values())
    return {
        "traces": len(traces),
        "messages": n_messages,
        "messages_per_trace": n_messages / len(traces) if traces else 0.0,
        "calls": calls,
        "functions": dict(names.most_common()),
        "function_share": {k: v / calls for k, v in names.most_common()} if calls else {},
        "distinct_functions": len(names),
        "distinct_parameters": len(params),
        "well_ordered_share": ordered / len(traces) if traces else 0.0,
    }


def _key(messages: list[Message]) -> str:
    return json.dumps([m.get("content") for m in messages if not is_tool_call_message(m)])


def corruption_stats(traces: list[Trace], reference: list[Trace]) -> dict[str, Any]:
    """Align traces with clean ones by their user messages; count differing calls by kind."""
    clean_by_key = {_key(r.messages): r for r in reference}
    kinds: Counter[str] = Counter()
    aligned = clean = calls = corrupted = 0
    for t in traces:
        ref = clean_by_key.get(_key(t.messages))
        if ref is None:
            continue
        ours, theirs = _calls(t.messages), _calls(ref.messages)
        if len(ours) != len(theirs):
            continue
        aligned += 1
        diff = 0
        for new, old in zip(ours, theirs, strict=True):
            calls += 1
            if (new.name, new.arguments) == (old.name, old.arguments):
                continue
            diff += 1
            src = "respond" if old.name == RESPOND else "service"
            if new.name == old.name:
                dst = "same_function"
            elif new.name == RESPOND:
                dst = "respond"
            elif old.name != RESPOND and set(new.arguments) == set(old.arguments) and new.arguments == old.arguments:
                dst = "swapped_function"
            elif new.name in ("FindRestaurants", "ReserveRestaurant"):
                dst = "service"
            else:
                dst = "renamed"
            kinds[f"{src}->{dst}"] += 1
        corrupted += diff
        clean += diff == 0
    return {
        "aligned": aligned,
        "clean_share": clean / aligned if aligned else 0.0,
        "calls": calls,
        "corrupted_share": corrupted / calls if calls else 0.0,
        "kinds": {k: v / corrupted for k, v in kinds.most_common()} if corrupted else {},
    }
