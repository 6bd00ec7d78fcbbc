"""`replay`: plays back the reference assistant calls of a recorded conversation.

    trace = read_traces("traces.jsonl")[0][0]
    policy = ReplayPolicy.from_trace(trace)
    session = AgentSession(policy, engine, confirm_bookings=False)
    for text in user_turns(trace.messages):
        session.send(text)

The policy is stateless about position: the next call is the reference call whose index equals the
number of assistant calls already in the history it is given. So a call the loop did not keep (an
invalid one being repaired, a booking refused for lack of confirmation) is proposed again, exactly
as a deterministic model would. When the reference calls run out, it returns a parse-style error
(the loop then apologises), never an exception.
"""

from __future__ import annotations

import threading
from typing import Any

from agent.conversation import Message, ToolCall, is_tool_call_message, normalize_messages, tool_calls
from agent.policies.base import Cancelled, PolicyStep, TextCallback
from agent.tools import SERVICE_TOOLS


class ReplayPolicy:
    """A Policy whose decisions are the recorded ones (for replays, demos and tests)."""

    def __init__(self, conversation_messages: list[Message], *, stream_chunk_words: int = 1):
        self.reference = normalize_messages(conversation_messages)
        self.calls: list[ToolCall] = tool_calls(self.reference)
        self.stream_chunk_words = max(1, stream_chunk_words)
        self.description = f"replay: {len(self.calls)} recorded calls"

    @classmethod
    def from_trace(cls, trace: Any, **kwargs: Any) -> ReplayPolicy:
        """From an `agent.trace_io.Trace` (or a plain list of messages)."""
        messages = trace.messages if hasattr(trace, "messages") else trace
        return cls(messages, **kwargs)

    def user_turns(self) -> list[str]:
        return user_turns(self.reference)

    def next_call(
        self,
        messages: list[Message],
        *,
        on_text: TextCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> PolicyStep:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        index = sum(1 for m in messages if is_tool_call_message(m))
        if index >= len(self.calls):
            return PolicyStep(
                raw_text="", error=f"replay finished: the recording has only {len(self.calls)} calls"
            )
        recorded = self.calls[index]
        call = ToolCall(recorded.name, dict(recorded.arguments))  # a fresh id, as a model would make
        if on_text is not None and call.message:
            words = call.message.split(" ")
            for i in range(0, len(words), self.stream_chunk_words):
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                chunk = " ".join(words[i : i + self.stream_chunk_words])
                on_text(chunk if i == 0 else " " + chunk)
        return PolicyStep(raw_text=call.to_text(), call=call, extra={"replay_index": index})


def user_turns(messages: list[Message]) -> list[str]:
    """The texts the human typed: user messages that are not the result of a service call
    (in the benchmark format a result is the user message right after a FindRestaurants /
    ReserveRestaurant call)."""
    out: list[str] = []
    previous: Message | None = None
    for msg in normalize_messages(messages):
        if msg.get("role") == "user":
            is_result = (
                previous is not None
                and is_tool_call_message(previous)
                and any(c["function"]["name"] in SERVICE_TOOLS for c in previous["tool_calls"])
            )
            if not is_result:
                out.append(msg.get("content") or "")
        previous = msg
    return out
