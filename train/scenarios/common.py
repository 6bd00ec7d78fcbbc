"""What every scenario builder shares: the SGD pools it draws from and small trace helpers."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

from agent.conversation import Message, ToolCall, is_tool_call_message
from agent.trace_io import Trace
from train.sgd_traces import Dialogue, iter_dialogues, s1_split, select_dialogues


@dataclass
class Pools:
    """SGD material, loaded once: the S1 train dialogues (benchmark order) and the other pools."""

    sgd_dir: Path
    s1_train: list[Dialogue]
    _cache: dict[str, list[Dialogue]] = field(default_factory=dict)

    @classmethod
    def load(cls, sgd_dir: str | Path) -> Pools:
        train, _ = s1_split(sgd_dir)
        return cls(Path(sgd_dir), train)

    def single_domain(self, service: str, splits: tuple[str, ...]) -> list[Dialogue]:
        """Single-domain dialogues of `service` across `splits`, in split then file order."""
        key = f"{service}:{','.join(splits)}"
        if key not in self._cache:
            found: list[Dialogue] = []
            for split in splits:
                found.extend(select_dialogues(iter_dialogues(self.sgd_dir, split), [service], single_domain=True))
            self._cache[key] = found
        return self._cache[key]


def copy_trace(trace: Trace, **meta) -> Trace:
    return Trace(copy.deepcopy(trace.messages), {**trace.meta, **meta})


def call_of(message: Message) -> ToolCall:
    return ToolCall.from_message(message)


def set_call(message: Message, call: ToolCall) -> None:
    """Replace the call of an assistant message in place (its id is kept)."""
    raw = message["tool_calls"][0]
    raw["function"] = {"name": call.name, "arguments": dict(call.arguments)}


def assistant_indices(messages: list[Message]) -> list[int]:
    return [i for i, m in enumerate(messages) if is_tool_call_message(m)]


def rename_calls(trace: Trace, functions: dict[str, str], params: dict[str, str] | None = None) -> Trace:
    """A copy with function names (and parameter names, order kept) replaced."""
    out = copy_trace(trace)
    params = params or {}
    for i in assistant_indices(out.messages):
        call = call_of(out.messages[i])
        args = {params.get(k, k): v for k, v in call.arguments.items()}
        set_call(out.messages[i], ToolCall(functions.get(call.name, call.name), args))
    return out
