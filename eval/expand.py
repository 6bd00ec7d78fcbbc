"""Per-turn expansion: conversations → one benchmark row per assistant tool call.

The TFT benchmark scores a model turn by turn against a gold history: each row is a conversation
prefix that ends where the assistant must act (`question`, a JSON string of the messages before
the call, tool-call arguments as objects) and the reference call (`answer`,
`{"name": …, "parameters": {…}}`). Both strings are serialised exactly like the benchmark's own
`test.jsonl` (plain `json.dumps`, default separators), so the last row of each expanded
conversation is byte-identical to the benchmark row it came from (tested).

Input is anything `agent.trace_io` reads: a benchmark `test.jsonl` (question + final answer),
a traces file (`context`) or `{"messages": […]}` lines.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.conversation import Message, ToolCall, is_tool_call_message
from agent.trace_io import LoadReport, Trace, iter_traces


@dataclass
class ExpandedRow:
    question: str  # JSON string of the messages before the call
    answer: str  # JSON string {"name": …, "parameters": {…}}
    conversation: int  # 0-based index of the source conversation
    turn: int  # index of the call's message in the conversation

    @property
    def function(self) -> str:
        return json.loads(self.answer)["name"]

    def to_record(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "conversation": self.conversation,
            "turn": self.turn,
        }


def expand_conversation(messages: list[Message], index: int = 0) -> Iterator[ExpandedRow]:
    """One row per assistant tool call (the first call of each assistant message)."""
    for i, msg in enumerate(messages):
        if not is_tool_call_message(msg):
            continue
        call = ToolCall.from_message(msg)
        yield ExpandedRow(
            question=json.dumps(messages[:i]), answer=call.to_answer(), conversation=index, turn=i
        )


def expand_traces(traces: Iterable[Trace | list[Message]]) -> list[ExpandedRow]:
    rows: list[ExpandedRow] = []
    for index, item in enumerate(traces):
        messages = item.messages if isinstance(item, Trace) else item
        rows.extend(expand_conversation(messages, index))
    return rows


@dataclass
class ExpansionResult:
    rows: list[ExpandedRow]
    report: LoadReport
    by_function: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        parts = ", ".join(f"{name} {count}" for name, count in self.by_function.most_common())
        return f"{len(self.rows)} rows from {self.report.loaded} conversations ({parts})"


def expand_file(path: str | Path, strict: bool = False) -> ExpansionResult:
    """Expand every conversation of a file; bad lines are skipped and listed in `.report`."""
    report = LoadReport(str(path))
    traces = list(iter_traces(path, strict=strict, report=report))
    rows = expand_traces(traces)
    return ExpansionResult(rows, report, Counter(row.function for row in rows))


def write_rows(path: str | Path, rows: Iterable[ExpandedRow | dict[str, Any]]) -> int:
    """JSONL, written to a temp file then renamed (an interrupted write never leaves half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            record = row.to_record() if isinstance(row, ExpandedRow) else row
            fh.write(json.dumps(record) + "\n")
            count += 1
    tmp.replace(path)
    return count
