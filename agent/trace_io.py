"""Trace files: read and write conversations in the TFT benchmark's JSONL formats.

One conversation per line, in either variant:
- `{"context": "<JSON string of {\"messages\": [...]}>"}` with tool-call arguments as JSON strings
  (the benchmark's traces.jsonl);
- `{"messages": [...]}` with arguments as objects.
Rows of a benchmark `test.jsonl`/`train.jsonl` (`question` = JSON list of messages, `answer` = the
final call) read as the conversation `question + [answer]`.

A bad line is reported with its number and reason and skipped (`strict=True` makes it fatal):
one broken line never loses the rest of a file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.conversation import Message, ToolCall, normalize_messages, with_string_arguments

VALID_ROLES = {"system", "user", "assistant", "tool"}


class TraceFormatError(ValueError):
    """A line that is not a conversation; `line` is its 1-based number in the file."""

    def __init__(self, reason: str, line: int | None = None, path: str | None = None):
        where = f"{path or '<input>'}:{line}: " if line is not None else ""
        super().__init__(where + reason)
        self.reason = reason
        self.line = line


@dataclass
class Trace:
    messages: list[Message]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoadReport:
    path: str
    loaded: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.path}: {self.loaded} conversations"
        if self.skipped:
            text += f", {len(self.skipped)} bad lines skipped"
            text += "".join(f"\n  line {n}: {why}" for n, why in self.skipped[:20])
            if len(self.skipped) > 20:
                text += f"\n  … and {len(self.skipped) - 20} more"
        return text


def check_messages(messages: Any) -> list[Message]:
    """Structural check of one conversation; returns normalized messages or raises ValueError."""
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise ValueError(f"message {i} is not an object")
        role = msg.get("role")
        if role not in VALID_ROLES:
            raise ValueError(f"message {i} has role {role!r}")
        if role == "assistant":
            calls = msg.get("tool_calls")
            if not calls or not isinstance(calls, list):
                raise ValueError(f"assistant message {i} has no tool call")
            for call in calls:
                fn = call.get("function") if isinstance(call, dict) else None
                if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                    raise ValueError(f"assistant message {i} has a malformed tool call")
        elif not isinstance(msg.get("content"), str):
            raise ValueError(f"{role} message {i} has no text content")
    try:
        return normalize_messages(messages)
    except (json.JSONDecodeError, TypeError, AttributeError) as exc:
        raise ValueError(f"tool-call arguments are not valid JSON: {exc}") from None


def record_to_trace(obj: Any) -> Trace:
    """One parsed JSON line → Trace. Raises ValueError with the reason."""
    if not isinstance(obj, dict):
        raise ValueError("line is not a JSON object")
    meta = {k: v for k, v in obj.items() if k not in ("context", "messages", "question", "answer")}
    if isinstance(obj.get("messages"), list):
        return Trace(check_messages(obj["messages"]), meta)
    if isinstance(obj.get("context"), str):
        try:
            inner = json.loads(obj["context"])
        except json.JSONDecodeError as exc:
            raise ValueError(f"context is not valid JSON: {exc}") from None
        if isinstance(inner, dict):
            inner = inner.get("messages")
        return Trace(check_messages(inner), meta)
    if isinstance(obj.get("question"), str):
        try:
            messages = json.loads(obj["question"])
        except json.JSONDecodeError as exc:
            raise ValueError(f"question is not valid JSON: {exc}") from None
        answer = obj.get("answer")
        if isinstance(answer, str) and answer.strip():
            try:
                ans = json.loads(answer)
            except json.JSONDecodeError as exc:
                raise ValueError(f"answer is not valid JSON: {exc}") from None
            call = ToolCall(ans["name"], ans.get("parameters", ans.get("arguments", {})))
            messages = list(messages) + [call.to_message()]
        return Trace(check_messages(messages), meta)
    raise ValueError("expected a 'messages' list, a 'context' string, or a 'question' string")


def iter_traces(path: str | Path, strict: bool = False, report: LoadReport | None = None) -> Iterator[Trace]:
    path = Path(path)
    report = report if report is not None else LoadReport(str(path))
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                trace = record_to_trace(json.loads(line))
            except (ValueError, KeyError, TypeError, RecursionError) as exc:
                reason = str(exc) if not isinstance(exc, KeyError) else f"missing key {exc}"
                if strict:
                    raise TraceFormatError(reason, number, str(path)) from None
                report.skipped.append((number, reason))
                continue
            trace.meta.setdefault("line", number)
            report.loaded += 1
            yield trace


def read_traces(path: str | Path, strict: bool = False) -> tuple[list[Trace], LoadReport]:
    report = LoadReport(str(path))
    traces = list(iter_traces(path, strict=strict, report=report))
    return traces, report


def trace_to_record(messages: list[Message], fmt: str = "context", meta: dict[str, Any] | None = None) -> dict:
    """`context`: the benchmark's traces.jsonl form; `messages`: arguments as objects."""
    if fmt == "context":
        record: dict[str, Any] = {"context": json.dumps({"messages": with_string_arguments(messages)})}
    elif fmt == "messages":
        record = {"messages": normalize_messages(messages)}
    else:
        raise ValueError(f"unknown trace format {fmt!r} (use 'context' or 'messages')")
    if meta:
        record.update({k: v for k, v in meta.items() if k not in record and k != "line"})
    return record


def write_traces(path: str | Path, traces: Iterable[Trace | list[Message]], fmt: str = "context") -> int:
    """Write conversations atomically (temp file + rename); returns how many."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for item in traces:
            messages, meta = (item.messages, item.meta) if isinstance(item, Trace) else (item, None)
            fh.write(json.dumps(trace_to_record(messages, fmt, meta)) + "\n")
            count += 1
    tmp.replace(path)
    return count
