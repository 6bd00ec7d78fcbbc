"""Incremental decoding of respond_to_user's message from partial call JSON."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.policies.streaming import MessageStreamer, decode_partial_json_string


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.booleans(), st.integers(min_value=1, max_value=7))
def test_deltas_concatenate_to_the_message(message, ascii_only, step):
    text = '<tool_call>\n{"name": "respond_to_user", "arguments": ' + json.dumps(
        {"message": message}, ensure_ascii=ascii_only
    ) + "}\n</tool_call>"
    streamer = MessageStreamer()
    out = "".join(streamer.feed(text[:end]) for end in range(0, len(text) + step, step))
    assert out == message
    assert streamer.closed


def test_other_tools_stream_nothing():
    streamer = MessageStreamer()
    text = '{"name": "FindRestaurants", "arguments": {"message": "x", "city": "Napa"}}'
    assert all(streamer.feed(text[:i]) == "" for i in range(len(text) + 1))


def test_incomplete_escapes_are_held_back():
    assert decode_partial_json_string("ab\\") == ("ab", False)
    assert decode_partial_json_string("ab\\u00") == ("ab", False)
    assert decode_partial_json_string("ab\\u00e9\\ud83c") == ("abé", False)
    assert decode_partial_json_string('ab\\ud83c\\udf55" tail') == ("ab🍕", True)
