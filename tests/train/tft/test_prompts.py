"""Tolerant parsing of LLM replies and the transcript rendering the prompts use."""

from __future__ import annotations

import pytest

from tests.train.tft.scripted_llms import GOLD
from train.tft.prompts import ReplyError, parse_calls, parse_choice, parse_json_reply, render_conversation


def test_json_reply_in_prose_fences_and_think_blocks():
    assert parse_json_reply('<think>{"x": 0}</think> sure: ```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json_reply('noise {bad} then {"a": {"b": 2}} tail') == {"a": {"b": 2}}
    for bad in ("", "no json here", '{"a": ', "[1, 2]"):
        with pytest.raises(ReplyError):
            parse_json_reply(bad)


def test_calls_and_choice_validation():
    calls = parse_calls({"calls": [{"name": "respond_to_user", "arguments": '{"message": "hi"}'}]}, 1)
    assert calls[0].arguments == {"message": "hi"}
    with pytest.raises(ReplyError, match="2 calls for 1"):
        parse_calls({"calls": [{"name": "a"}, {"name": "b"}]}, 1)
    with pytest.raises(ReplyError, match="arguments are not an object"):
        parse_calls({"calls": [{"name": "a", "arguments": [1]}]}, 1)
    assert parse_choice({"choice": "C2"}, 2) == 1 and parse_choice({"choice": 1}, 2) == 0
    with pytest.raises(ReplyError):
        parse_choice({"choice": "C3"}, 2)


def test_transcript_marks_slots_and_results():
    text = render_conversation(GOLD["I want some breakfast in Fairfield"], hide_calls=True)
    lines = text.splitlines()
    assert lines[0] == "USER: I want some breakfast in Fairfield"
    assert lines[1].startswith("A1 ASSISTANT: <to label> (original label, may be wrong: FindRestaurants")
    assert lines[2].startswith("TOOL RESULT: [{")
