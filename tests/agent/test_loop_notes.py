"""The loop's own words: notes shown to the model for one call, and the question it asks itself."""

from __future__ import annotations

from agent.conversation import ToolCall
from agent.loop_notes import confirmation_note, confirmation_question, declined_note, repair_note

BOOKING = ToolCall(
    "ReserveRestaurant",
    {"restaurant_name": "Lark", "city": "San Francisco", "date": "2019-03-01", "time": "17:30", "party_size": "2"},
)


def test_repair_note_quotes_the_bad_output_and_cuts_long_ones():
    note = repair_note("unknown tool 'Book'", '{"name": "Book"}')
    assert note["role"] == "user"
    assert "unknown tool 'Book'" in note["content"] and 'Your output was: {"name": "Book"}' in note["content"]

    long = repair_note("not JSON", "x" * 5000)["content"]
    assert "x" * 600 + "…" in long and "x" * 601 not in long


def test_repair_note_without_output_says_nothing_about_it():
    for raw in (None, "", "   "):
        assert "Your output was" not in repair_note("empty output", raw)["content"]


def test_confirmation_and_declined_notes_name_every_detail_of_the_call():
    for note in (confirmation_note(BOOKING), declined_note(BOOKING)):
        assert note["role"] == "user" and note["content"].startswith("[system note]")
        assert "NOT made" in note["content"]
        for value in BOOKING.arguments.values():
            assert repr(value) in note["content"]
    assert "confirm every detail" in confirmation_note(BOOKING)["content"]
    assert "what they would like to change" in declined_note(BOOKING)["content"]


def test_confirmation_question_reads_as_a_sentence_and_skips_missing_details():
    assert confirmation_question(BOOKING) == (
        "Just to confirm: shall I book a table at Lark in San Francisco on 2019-03-01 at 17:30 for 2?"
    )
    assert confirmation_question(ToolCall("ReserveRestaurant", {"time": "18:00"})) == (
        "Just to confirm: shall I book a table at the restaurant at 18:00?"
    )
