"""A scripted stand-in for the Policy protocol (agent/policies/base.py), for TUI tests that need
exact control: the next calls in order, the respond_to_user text streamed in pieces, and an
optional gate that blocks generation until released (to test Esc / cancellation)."""

from __future__ import annotations

import threading
import time

from agent.conversation import ToolCall
from agent.policies.base import PolicyStep


class ScriptPolicy:
    description = "script: test policy"

    def __init__(self, calls: list[ToolCall], *, block: threading.Event | None = None, chunk: int = 4):
        self.calls = list(calls)
        self.block = block  # when set, generation waits for cancel (or for this event to be set)
        self.chunk = chunk
        self.seen: list[list[dict]] = []
        self.cancelled = threading.Event()

    def next_call(self, messages, *, on_text=None, cancel=None):
        self.seen.append(list(messages))
        t0 = time.perf_counter()
        if self.block is not None:
            while not self.block.is_set():
                if cancel is not None and cancel.is_set():
                    self.cancelled.set()  # the "model" really stopped decoding
                    return PolicyStep(raw_text="", cancelled=True, latency_s=time.perf_counter() - t0)
                time.sleep(0.01)
        call = self.calls.pop(0) if self.calls else ToolCall("respond_to_user", {"message": "(no more script)"})
        if on_text and call.message:
            for i in range(0, len(call.message), self.chunk):
                on_text(call.message[i : i + self.chunk])
        return PolicyStep(raw_text=call.to_text(), call=call, prompt_tokens=10 * len(messages),
                          completion_tokens=7, latency_s=0.01)
