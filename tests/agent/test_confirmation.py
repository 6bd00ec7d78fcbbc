"""The affirmative-reply detector that gates bookings."""

from __future__ import annotations

import pytest

from agent.confirmation import is_affirmative
from agent.conversation import ToolCall, is_tool_call_message
from agent.trace_io import read_traces

YES = [
    "yes",
    "Yes, please.",
    "Sure",
    "please do",
    "That works.",
    "go ahead",
    "Book it!",
    "I confirm",
    "Yes, that is correct.",
    "thats right",
    "That\u2019s right",
    "Sounds good to me",
    "Yup, perfect",
    "OK",
    "No problem, go ahead",  # "no problem" is not a no
    "That's perfect. Do they serve liquor?",  # a question after the yes still confirms (SGD does this)
    "Great, thank you",
]

NO = [
    "",
    "no",
    "No, thanks",
    "nope",
    "Not yet",
    "don't book it",
    "Please don't",
    "Yes, but make it 8pm",
    "Sure, actually change it to 4 people",
    "wait",
    "hold on, let me check",
    "cancel that",
    "I'd rather go somewhere else",
    "Find another place",
    "That's wrong",
    "It isn't right",
    "Do they serve liquor?",
    "I want Thai food in San Jose",
    "yesterday was fun",  # whole words only
    "Make it 7pm instead",
]


@pytest.mark.parametrize("text", YES)
def test_affirmative(text):
    assert is_affirmative(text)


@pytest.mark.parametrize("text", NO)
def test_not_affirmative(text):
    assert not is_affirmative(text)


def test_non_text_is_not_a_confirmation():
    assert not is_affirmative(None)
    assert not is_affirmative(42)  # type: ignore[arg-type]


@pytest.mark.data
def test_detects_the_confirmations_before_reference_bookings(benchmark_dir):
    """In the SGD-derived S1 traces the user's message right before a ReserveRestaurant call is a
    confirmation; the detector must recognise at least 90% of them (it finds about 97%)."""
    traces, _ = read_traces(benchmark_dir / "scenario-1-baseline" / "tft" / "traces.jsonl")
    hits = total = 0
    for trace in traces:
        last_user, previous = None, None
        for msg in trace.messages:
            is_result = (
                previous is not None
                and is_tool_call_message(previous)
                and ToolCall.from_message(previous).name != "respond_to_user"
            )
            if msg["role"] == "user" and not is_result:
                last_user = msg["content"]
            if is_tool_call_message(msg) and ToolCall.from_message(msg).name == "ReserveRestaurant":
                total += 1
                hits += is_affirmative(last_user)
            previous = msg
    assert total > 300
    assert hits / total >= 0.9


@pytest.mark.parametrize(
    "text",
    [
        "That should work.",
        "Yes, that sound great. I can't wait.",
        "That's right. Can you give me their phone number in case I have to cancel?",
    ],
)
def test_benchmark_confirmations_that_look_negative(text):
    assert is_affirmative(text)


@pytest.mark.parametrize("text", ["I can't make it at that time.", "Cancel it, please.", "That should not work."])
def test_real_refusals_still_veto(text):
    assert not is_affirmative(text)
