"""Events the agent loop emits while it works, for UIs (the TUI, the REPL) and logs.

Plain dataclasses; a UI subscribes with a callback `on_event(event)`. Callbacks run on the
loop's thread (a worker thread in the TUI), so a UI must hand them to its own thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.conversation import ToolCall


@dataclass
class CallStarted:
    """The model is asked for its next call (step `step` of this user turn)."""

    step: int


@dataclass
class TextDelta:
    """A piece of the respond_to_user message as it is generated."""

    text: str


@dataclass
class ToolCallMade:
    """The model chose a call (already validated against the schema)."""

    call: ToolCall


@dataclass
class ToolResult:
    """A service tool ran; `results` is exactly what the model will see (json.dumps of it)."""

    call: ToolCall
    results: list[dict[str, Any]]
    error: str | None = None


@dataclass
class ConfirmationNeeded:
    """The model wants to book, but the user has not confirmed in their last turn."""

    call: ToolCall


@dataclass
class Reply:
    """The assistant's message to the user (a respond_to_user call); ends the user turn. `unbacked`:
    the restaurants it names that no search of this chat returned and the user never said
    (`agent.name_check`)."""

    text: str
    call: ToolCall | None = None
    unbacked: list[str] = field(default_factory=list)


@dataclass
class AgentError:
    """Something went wrong (unparseable output, invalid call, model failure); `fatal` when the
    turn was ended with an apology."""

    message: str
    raw: str | None = None
    fatal: bool = False


@dataclass
class TurnFinished:
    """The user turn is over. Stats of the model calls made during it."""

    steps: int
    latency_s: float
    prompt_tokens: int
    completion_tokens: int
    cancelled: bool = False
    stats: dict[str, Any] = field(default_factory=dict)


Event = CallStarted | TextDelta | ToolCallMade | ToolResult | ConfirmationNeeded | Reply | AgentError | TurnFinished
