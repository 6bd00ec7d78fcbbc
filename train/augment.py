"""Entity-swap augmentation: copies of each conversation with its cities, cuisines and restaurant
names replaced, consistently, by other values of the same kind.

    augmented = augment(traces, copies=3, seed=0)   # the originals + 3 swapped copies of each

Why: a tiny model trained on 327 conversations memorises surface values: it learns
`FindRestaurants(city="San Francisco", cuisine="Japanese")` instead of copying what the user said, and
ties its decisions to names it has seen. Swapping the entities keeps every decision (which function,
which keys) and changes the strings, so the cheapest way to fit the data becomes copying from the
context. The values come from the training conversations themselves (the call arguments and the
tool results), so no held-out name leaks in.

Only values the conversation states before a call uses them are swapped (`unstated_values`): where
the user said "SF" and the call says "San Francisco", a swap would turn the call into "Oakland" with
nothing in the context to copy it from, teaching the model to invent values (21 values of the S1
traces are such inferences: docs/demo-model.md, "Entity swaps at the default's steps").

A value is replaced wherever it appears as a whole word or phrase: user text, tool results,
call arguments and replies; case follows the original (`italian` → `mexican`). Values that are not
plain ASCII, contain quotes or backslashes (they would be escaped differently inside the JSON tool
results), or are shorter than 3 characters are left alone.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable
from typing import Any

from agent.trace_io import Trace

SWAP_KEYS = ("city", "cuisine", "restaurant_name")


def _swappable(value: Any) -> bool:
    return (
        isinstance(value, str)
        and len(value) >= 3
        and value.isascii()
        and '"' not in value
        and "\\" not in value
        and value.strip() == value
    )


def _calls(message: dict) -> list[dict]:
    return [c.get("function", c) for c in message.get("tool_calls") or []]


def _result_rows(message: dict) -> list[dict]:
    """Rows of a tool-result message (a user/tool message whose content is a JSON list of objects)."""
    content = message.get("content")
    if message.get("role") not in ("user", "tool") or not isinstance(content, str) or not content.startswith("["):
        return []
    try:
        rows = json.loads(content)
    except ValueError:
        return []
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def trace_entities(trace: Trace) -> dict[str, set[str]]:
    """The swappable values of each kind in one conversation (call arguments and tool results)."""
    found: dict[str, set[str]] = {key: set() for key in SWAP_KEYS}
    for message in trace.messages:
        sources = [c.get("arguments") for c in _calls(message)] + _result_rows(message)
        for source in sources:
            if not isinstance(source, dict):
                continue
            for key in SWAP_KEYS:
                if _swappable(source.get(key)):
                    found[key].add(source[key])
    return found


def _whole_words(values: Iterable[str]) -> re.Pattern:
    """Any of `values` as a whole word or phrase, any case, longest first ("San Jose" never matches in
    "San Joseph"; "South San Francisco" wins over "San Francisco")."""
    alternatives = sorted(values, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(a) for a in alternatives) + r")(?!\w)", re.IGNORECASE)


def unstated_values(trace: Trace) -> set[str]:
    """Swappable call-argument values (lower-cased) that a call uses before any earlier message of the
    conversation mentions them as a whole word: the call infers them ("SF" -> "San Francisco") rather
    than copying them. Earlier calls count as context (the model reads its own past calls)."""
    unstated: set[str] = set()
    context = ""
    for message in trace.messages:
        for call in _calls(message):
            args = call.get("arguments")
            if isinstance(args, dict):
                for key in SWAP_KEYS:
                    value = args.get(key)
                    if _swappable(value) and not _whole_words([value]).search(context):
                        unstated.add(value.lower())
        content = message.get("content")
        if message.get("role") != "system" and isinstance(content, str):
            context += "\n" + content
        context += "".join("\n" + json.dumps(c.get("arguments"), ensure_ascii=False) for c in _calls(message))
    return unstated


def value_pools(traces: Iterable[Trace]) -> dict[str, list[str]]:
    """Every swappable value of each kind across the traces, sorted (deterministic sampling)."""
    pools: dict[str, set[str]] = {key: set() for key in SWAP_KEYS}
    for trace in traces:
        for key, values in trace_entities(trace).items():
            pools[key] |= values
    return {key: sorted(values) for key, values in pools.items()}


def _in_case_of(original: str, replacement: str) -> str:
    if original.islower():
        return replacement.lower()
    if original.isupper() and len(original) > 3:
        return replacement.upper()
    return replacement


def _replace_all(value: Any, pattern: re.Pattern, mapping: dict[str, str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(lambda m: _in_case_of(m.group(0), mapping[m.group(0).lower()]), value)
    if isinstance(value, dict):
        return {k: _replace_all(v, pattern, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_all(v, pattern, mapping) for v in value]
    return value


def swap_entities(trace: Trace, pools: dict[str, list[str]], rng: random.Random) -> Trace:
    """One copy of `trace` with each of its entities replaced by a different value of the same kind."""
    entities = trace_entities(trace)
    taken = {v.lower() for values in entities.values() for v in values}
    unstated = unstated_values(trace)
    entities = {key: {v for v in values if v.lower() not in unstated} for key, values in entities.items()}
    mapping: dict[str, str] = {}
    for key in SWAP_KEYS:
        candidates = [v for v in pools.get(key, []) if v.lower() not in taken]
        for old in sorted(entities[key]):
            if not candidates or old.lower() in mapping:
                continue
            new = candidates.pop(rng.randrange(len(candidates)))
            mapping[old.lower()] = new
            taken.add(new.lower())
    if not mapping:
        return Trace([dict(m) for m in trace.messages], dict(trace.meta))
    # one pass, longest first, whole words only: "San Jose" never becomes "<new> Jose"
    pattern = _whole_words(mapping)
    messages = [_replace_all(m, pattern, mapping) for m in trace.messages]
    # ids are not content
    for new, old in zip(messages, trace.messages, strict=True):
        for call_new, call_old in zip(new.get("tool_calls") or [], old.get("tool_calls") or [], strict=True):
            if "id" in call_old:
                call_new["id"] = call_old["id"]
    return Trace(messages, {**trace.meta, "augmented": "entity-swap"})


def augment(traces: list[Trace], copies: int, seed: int = 0) -> list[Trace]:
    """The traces followed by `copies` entity-swapped copies of each (values drawn from the traces)."""
    if copies <= 0:
        return list(traces)
    rng = random.Random(seed)
    pools = value_pools(traces)
    out = list(traces)
    for _ in range(copies):
        out.extend(swap_entities(trace, pools, rng) for trace in traces)
    return out
