"""The conversation format: the TFT benchmark's, because the released models were trained on it.

Messages are plain OpenAI-style dicts:

    {"role": "user", "content": "Book me a table"}
    {"role": "assistant", "tool_calls": [{"id": "call_…", "type": "function",
        "function": {"name": "FindRestaurants", "arguments": {"city": "…", "cuisine": "…"}}}]}
    {"role": "user", "content": "[{\"city\": …}]"}      # a service tool's result, json.dumps(list)

Every assistant turn carries exactly one tool call. In memory, `arguments` is always a dict
(`normalize_messages` decodes the JSON strings that trace files carry). With
`tool_result_role="tool"` a result is instead `{"role": "tool", "tool_call_id": …, "content": …}`,
Qwen3's native form.
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, Any]


def new_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:12]


@dataclass
class ToolCall:
    """One function call: a name and its arguments (a dict)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_call_id)

    def to_message(self) -> Message:
        return {
            "role": "assistant",
            "tool_calls": [
                {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": dict(self.arguments)}}
            ],
        }

    def to_answer(self) -> str:
        """The benchmark's `answer` string: {"name": …, "parameters": {…}}."""
        return json.dumps({"name": self.name, "parameters": self.arguments})

    def to_text(self) -> str:
        """Qwen3's serialisation of a call, as the model writes it."""
        return "<tool_call>\n" + json.dumps({"name": self.name, "arguments": self.arguments}) + "\n</tool_call>"

    @property
    def message(self) -> str | None:
        """The text of a respond_to_user call, else None."""
        if self.name == "respond_to_user":
            value = self.arguments.get("message")
            return value if isinstance(value, str) else None
        return None

    @classmethod
    def from_message(cls, message: Message) -> ToolCall:
        """The (first) call of an assistant message; string arguments are decoded."""
        calls = message.get("tool_calls") or []
        if not calls:
            raise ValueError("assistant message has no tool_calls")
        raw = calls[0]
        fn = raw.get("function", raw)
        args = fn.get("arguments", fn.get("parameters", {}))
        if isinstance(args, str):
            args = json.loads(args) if args.strip() else {}
        return cls(name=fn["name"], arguments=args, id=raw.get("id") or new_call_id())


def user_message(text: str) -> Message:
    return {"role": "user", "content": text}


def dump_results(results: list[dict[str, Any]]) -> str:
    """How a service result is shown to the model: json.dumps of the list ("[]" when empty)."""
    return json.dumps(results)


def result_message(results: list[dict[str, Any]], role: str = "user", call_id: str | None = None) -> Message:
    if role == "tool":
        return {"role": "tool", "tool_call_id": call_id or "", "content": dump_results(results)}
    if role != "user":
        raise ValueError(f"tool_result_role must be 'user' or 'tool', not {role!r}")
    return {"role": "user", "content": dump_results(results)}


def normalize_message(message: Message) -> Message:
    """A copy with tool-call arguments decoded to dicts and ids/types filled in."""
    msg = copy.deepcopy(message)
    if msg.get("role") == "assistant" and msg.get("tool_calls"):
        fixed = []
        for raw in msg["tool_calls"]:
            fn = raw.get("function", {})
            args = fn.get("arguments", {})
            if isinstance(args, str):
                args = json.loads(args) if args.strip() else {}
            fixed.append(
                {
                    "id": raw.get("id") or new_call_id(),
                    "type": raw.get("type", "function"),
                    "function": {"name": fn.get("name", ""), "arguments": args},
                }
            )
        msg["tool_calls"] = fixed  # any "content" key (some files carry null) is kept as it is
    return msg


def normalize_messages(messages: list[Message]) -> list[Message]:
    return [normalize_message(m) for m in messages]


def with_string_arguments(messages: list[Message]) -> list[Message]:
    """A copy with tool-call arguments as JSON strings (the trace `context` variant, OpenAI wire form)."""
    out = normalize_messages(messages)
    for msg in out:
        for raw in msg.get("tool_calls") or []:
            raw["function"]["arguments"] = json.dumps(raw["function"]["arguments"])
    return out


def is_tool_call_message(message: Message) -> bool:
    return message.get("role") == "assistant" and bool(message.get("tool_calls"))


def tool_calls(messages: list[Message]) -> list[ToolCall]:
    """Every assistant call of a conversation, in order."""
    return [ToolCall.from_message(m) for m in messages if is_tool_call_message(m)]
