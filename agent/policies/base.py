"""What every policy (hf, openai, replay) offers the agent loop: given the conversation so far,
decide the next tool call.

Policies do not execute tools and do not validate calls against the schema: the loop does.
They turn the model's raw text into a `PolicyStep`, with a parse error instead of a call when the
text is not one tool call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.conversation import Message, ToolCall


@dataclass
class PolicyStep:
    raw_text: str
    call: ToolCall | None = None
    error: str | None = None  # set when raw_text did not parse as one tool call
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens served from a reused KV cache
    latency_s: float = 0.0
    time_to_first_token_s: float | None = None
    cancelled: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Cancelled(Exception):
    """Raised inside a policy when its cancel event is set; the loop turns it into a step."""


TextCallback = Callable[[str], None]


class Policy(Protocol):
    """Decides the next call.

    `on_text` receives the `message` text of a respond_to_user call as it is generated
    (deltas, in order). `cancel`, when set, stops generation as soon as possible and the
    returned step has `cancelled=True`.
    """

    description: str  # e.g. "hf: distillabs/… (+adapter)", shown in UIs and logged

    def next_call(
        self,
        messages: list[Message],
        *,
        on_text: TextCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> PolicyStep: ...
