"""What the agent loop says on its own: fixed replies to the user, and notes shown to the model.

    from agent.loop_notes import repair_note, confirmation_question
    note = repair_note("unknown tool 'Book'", raw_output)   # one retry's extra user message

The notes are user messages that exist for one model call only (the loop never keeps them in the
history, so a logged conversation stays in the benchmark format); the fixed replies end a turn the
model could not finish. They live apart from `agent.loop` so their wording can be read, changed and
tested in one place.
"""

from __future__ import annotations

from typing import Any

from agent.conversation import Message, ToolCall, user_message

APOLOGY = (
    "Sorry, something went wrong on my side and I couldn't complete that. "
    "Could you rephrase or tell me again what you need?"
)
OUT_OF_STEPS = (
    "Sorry, I couldn't finish that request. "
    "Could you tell me again what you'd like, perhaps one step at a time?"
)
DECLINED_REPLY = "OK, I haven't booked anything. What would you like to change?"


def repair_note(problem: str, raw: str | None) -> Message:
    """Shown to the model for one retry after an invalid output; never kept in the history."""
    shown = (raw or "").strip()
    if len(shown) > 600:
        shown = shown[:600] + "…"
    return user_message(
        f"[system note] Your previous output was not a valid tool call: {problem}\n"
        + (f"Your output was: {shown}\n" if shown else "")
        + "Reply again to the conversation with exactly one valid tool call that follows the tool schema."
    )


def confirmation_note(call: ToolCall) -> Message:
    """Asks the model to confirm the booking details with the user first (not kept in the history)."""
    return user_message(
        "[system note] The user has not confirmed this reservation yet, so it was NOT made: "
        f"{call.name}({_args_text(call.arguments)}). Use respond_to_user to confirm every detail "
        "(restaurant, city, date, time, party size) with the user and wait for their yes."
    )


def declined_note(call: ToolCall) -> Message:
    return user_message(
        f"[system note] The user declined this reservation, so it was NOT made: {call.name}"
        f"({_args_text(call.arguments)}). Use respond_to_user to ask what they would like to change."
    )


def confirmation_question(call: ToolCall) -> str:
    """The loop's own question when the model keeps trying to book without a confirmation."""
    a = call.arguments
    parts = [f"a table at {a.get('restaurant_name', 'the restaurant')}"]
    if a.get("city"):
        parts.append(f"in {a['city']}")
    if a.get("date"):
        parts.append(f"on {a['date']}")
    if a.get("time"):
        parts.append(f"at {a['time']}")
    if a.get("party_size"):
        parts.append(f"for {a['party_size']}")
    return "Just to confirm: shall I book " + " ".join(parts) + "?"


def _args_text(arguments: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in arguments.items())
