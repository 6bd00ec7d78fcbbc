"""Parse a model's raw output into one ToolCall.

Accepted shapes (after stripping whitespace, an optional `<think>…</think>` block and code fences):
- Qwen3: `<tool_call>{"name": …, "arguments": {…}}</tool_call>` (closing tag optional, since
  generation stops on it);
- bare JSON: `{"name": …, "arguments": {…}}` or with `"parameters"`; arguments may be a JSON string.

Anything else raises `ToolCallParseError`, carrying the raw text. The parser never raises any
other exception (property-tested).
"""

from __future__ import annotations

import json
import re
from typing import Any

from agent.conversation import ToolCall

_THINK = re.compile(r"^\s*<think>.*?</think>", re.DOTALL)
_FENCE = re.compile(r"^```[a-zA-Z0-9_-]*\s*\n?(.*?)\n?```$", re.DOTALL)
_TOOL_CALL = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL)


class ToolCallParseError(ValueError):
    """The model's output is not one tool call. `raw` keeps the text, `reason` says why."""

    def __init__(self, reason: str, raw: str):
        super().__init__(reason)
        self.reason = reason
        self.raw = raw


def _strip_wrappers(text: str) -> str:
    text = _THINK.sub("", text, count=1).strip()
    match = _FENCE.match(text)
    if match:
        text = match.group(1).strip()
    return text


def parse_tool_call(raw: str) -> ToolCall:
    if not isinstance(raw, str):
        raise ToolCallParseError(f"expected text, got {type(raw).__name__}", str(raw))
    text = _strip_wrappers(raw)
    if not text:
        raise ToolCallParseError("empty output", raw)
    match = _TOOL_CALL.search(text)
    if match:
        text = _strip_wrappers(match.group(1))
    try:
        obj: Any = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ToolCallParseError(f"not valid JSON: {exc}", raw) from None
    if isinstance(obj, list) and len(obj) >= 1:
        obj = obj[0]
    if not isinstance(obj, dict):
        raise ToolCallParseError("the call is not a JSON object", raw)
    if "function" in obj and isinstance(obj["function"], dict):  # OpenAI tool_calls entry
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ToolCallParseError("the call has no function name", raw)
    args: Any = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except (json.JSONDecodeError, RecursionError):
            raise ToolCallParseError("arguments are a string that is not JSON", raw) from None
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ToolCallParseError("arguments are not a JSON object", raw)
    return ToolCall(name=name.strip(), arguments=args)
