"""The tool-call parser: accepted shapes, typed errors with the raw text kept, and (hypothesis) that it
never raises anything but ToolCallParseError."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.conversation import ToolCall
from agent.parse import ToolCallParseError, parse_tool_call

CALL = {"name": "FindRestaurants", "arguments": {"city": "San Jose", "cuisine": "Italian"}}


@pytest.mark.parametrize(
    "raw",
    [
        '<tool_call>\n{"name": "FindRestaurants", "arguments": {"city": "San Jose", "cuisine": "Italian"}}\n</tool_call>',
        '<tool_call>{"name": "FindRestaurants", "arguments": {"city": "San Jose", "cuisine": "Italian"}}',
        '  {"name": "FindRestaurants", "parameters": {"city": "San Jose", "cuisine": "Italian"}}  ',
        '{"name": "FindRestaurants", "arguments": "{\\"city\\": \\"San Jose\\", \\"cuisine\\": \\"Italian\\"}"}',
        '<think>\n\n</think>\n\n<tool_call>\n{"name": "FindRestaurants", "arguments": {"city": "San Jose", "cuisine": "Italian"}}\n</tool_call>',
        '```json\n{"name": "FindRestaurants", "arguments": {"city": "San Jose", "cuisine": "Italian"}}\n```',
        '{"type": "function", "function": {"name": "FindRestaurants", "arguments": {"city": "San Jose", "cuisine": "Italian"}}}',
    ],
)
def test_accepted_shapes(raw):
    call = parse_tool_call(raw)
    assert (call.name, call.arguments) == (CALL["name"], CALL["arguments"])


def test_round_trip_of_qwen3_text():
    call = ToolCall("respond_to_user", {"message": 'He said "hi" \\ bye\n'})
    assert parse_tool_call(call.to_text()).arguments == call.arguments


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("", "empty"),
        ("Sure! I can help with that.", "not valid JSON"),
        ('{"arguments": {}}', "no function name"),
        ('{"name": "x", "arguments": [1, 2]}', "not a JSON object"),
        ('{"name": "x", "arguments": "{oops"}', "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ("<tool_call>\n{\"name\": \"FindRest", "not valid JSON"),
    ],
)
def test_errors_keep_the_raw_text(raw, reason):
    with pytest.raises(ToolCallParseError) as info:
        parse_tool_call(raw)
    assert reason in info.value.reason
    assert info.value.raw == raw


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
fragments = st.sampled_from(
    ["<tool_call>", "</tool_call>", "<think>", "</think>", "```", "```json\n", "{", "}", "[", "]", '"name"',
     '"arguments"', '"parameters"', '"function"', ":", ",", '"', "\\", "\n", " ", "null", "1e999"]
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(max_size=200),
    st.lists(fragments | st.text(max_size=5), max_size=30).map("".join),
    json_values.map(json.dumps),
    st.builds(lambda n, a: json.dumps({"name": n, "arguments": a}), json_values, json_values),
    st.builds(lambda n, a: "<tool_call>" + json.dumps({"name": n, "parameters": a}), json_values, json_values),
    st.builds(lambda n, a: json.dumps({"name": n, "arguments": json.dumps(a)}), json_values, json_values),
))
def test_parser_never_raises_anything_else(raw):
    try:
        call = parse_tool_call(raw)
    except ToolCallParseError as exc:
        assert exc.raw == raw
    else:
        assert isinstance(call.name, str) and call.name
        assert isinstance(call.arguments, dict)


@settings(max_examples=50, deadline=None)
@given(st.one_of(st.integers(), st.none(), st.binary(max_size=10), st.lists(st.integers(), max_size=3)))
def test_non_text_input_is_a_parse_error(raw):
    with pytest.raises(ToolCallParseError):
        parse_tool_call(raw)  # type: ignore[arg-type]
