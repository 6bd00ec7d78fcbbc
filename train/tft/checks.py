"""Deterministic checks of a conversation, cheap enough to run before any LLM is asked.

Used by Relabel (to discard bad committee proposals before the teacher arbitrates) and by Validate.
Each check returns a list of problems, written "code: detail"; empty means it passes.
- structure: starts with the user; one call per assistant turn; a tool result right after every
  service call and nowhere else;
- schema: every call valid against the tool schemas (names, parameters, enums, required);
- grounding: free-text arguments of service calls (city, restaurant name) appear in the conversation
  so far — what the user said, earlier results, earlier assistant turns — so a value copied from
  another dialogue is caught. On the benchmark's clean S1 traces every conversation passes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agent.conversation import Message, ToolCall
from agent.tools import RESPOND_TO_USER, CallValidationError, validate_call
from train.tft.prompts import is_result_message

# Values the user states in words the call normalises ("tomorrow" → 2019-03-02, "7 pm" → 19:00,
# "burgers" → American): checking them would need an LLM, so they are left to the committee.
UNGROUNDED = {"date", "time", "message", "cuisine"}
_WORD = re.compile(r"[a-z0-9]+")
# How SGD users name cities (measured on the S1 traces).
CITY_ALIASES = {"san francisco": ("sf", "sfo", "san fran", "frisco"), "new york": ("nyc", "ny")}


def structure_problems(messages: list[Message], service_tools: set[str] | None = None) -> list[str]:
    problems: list[str] = []
    if not messages or messages[0].get("role") != "user" or is_result_message(messages[0]):
        problems.append("structure: does not start with a user message")
    for i, msg in enumerate(messages):
        role = msg.get("role")
        if role == "assistant":
            calls = msg.get("tool_calls") or []
            if len(calls) != 1:
                problems.append(f"structure: assistant turn {i} has {len(calls)} calls (want 1)")
                continue
            name = ToolCall.from_message(msg).name
            is_service = name != RESPOND_TO_USER if service_tools is None else name in service_tools
            nxt = messages[i + 1] if i + 1 < len(messages) else None
            if is_service and (nxt is None or not is_result_message(nxt)):
                problems.append(f"structure: service call {name} at {i} is not followed by its result")
            if not is_service and nxt is not None and is_result_message(nxt):
                problems.append(f"structure: a tool result follows {name} at {i}")
        elif is_result_message(msg):
            prev = messages[i - 1] if i else None
            if prev is None or prev.get("role") != "assistant":
                problems.append(f"structure: tool result at {i} does not follow a call")
        elif role == "system":
            continue
        elif role != "user":
            problems.append(f"structure: message {i} has role {role!r}")
    return problems


def schema_problems(calls: list[ToolCall], tools: list[dict[str, Any]]) -> list[str]:
    problems = []
    for i, call in enumerate(calls, start=1):
        try:
            validate_call(call.name, call.arguments, tools)
        except CallValidationError as exc:
            problems.append(f"schema: call {i}: {exc}")
    return problems


def _grounded(value: str, context: str) -> bool:
    value = value.lower().strip()
    if not value or value in context:
        return True
    words_in_context = set(_WORD.findall(context))
    for alias in CITY_ALIASES.get(value, ()):
        if alias in words_in_context or (" " in alias and alias in context):
            return True
    words = [w for w in _WORD.findall(value) if len(w) > 2]
    if not words:
        return True
    hits = sum(1 for w in words if w in context)
    return hits * 2 >= len(words) + (1 if len(words) > 1 else 0)


def grounding_problems(messages: list[Message], tools: list[dict[str, Any]]) -> list[str]:
    """Service-call arguments must come from the conversation so far: user text, tool results, the
    assistant's own messages ("How about Steelhead Brewing?") and earlier calls' arguments."""
    enums = {
        t["function"]["name"]: {k for k, p in t["function"]["parameters"]["properties"].items() if "enum" in p}
        for t in tools
    }
    problems, context = [], ""
    for i, msg in enumerate(messages):
        if msg.get("role") == "assistant" and msg.get("tool_calls"):
            call = ToolCall.from_message(msg)
            if call.name == RESPOND_TO_USER:
                context += " " + str(call.message or "").lower()
                continue
            for key, value in call.arguments.items():
                if key in UNGROUNDED or key in enums.get(call.name, set()) or not isinstance(value, str):
                    continue
                if not _grounded(value, context):
                    problems.append(f"ungrounded: {call.name}.{key}={value!r} at {i} is not in the conversation")
            context += " " + json.dumps(call.arguments).lower()
        elif isinstance(msg.get("content"), str):
            context += " " + msg["content"].lower()
    return problems


def conversation_problems(messages: list[Message], tools: list[dict[str, Any]]) -> list[str]:
    """All deterministic checks; structure first (the others assume it)."""
    problems = structure_problems(messages)
    if problems:
        return problems
    calls = [ToolCall.from_message(m) for m in messages if m.get("role") == "assistant"]
    return schema_problems(calls, tools) or grounding_problems(messages, tools)


def with_calls(messages: list[Message], calls: list[ToolCall]) -> list[Message]:
    """The conversation with its assistant turns replaced by `calls`, in order."""
    out, it = [], iter(calls)
    for msg in messages:
        if msg.get("role") == "assistant":
            out.append(next(it).to_message())
        else:
            out.append(dict(msg))
    return out
