import json

import pytest

from eval.metrics import (
    SCHEMA_DEFAULTS,
    binary_tool_call,
    parse_call,
    rouge,
    sgd_schema_defaults,
    staged_tool_call,
    tool_call_equivalence,
)

REF = (
    '{"name": "ReserveRestaurant", "parameters": '
    '{"restaurant_name": "Katana-ya", "city": "El Cerrito", "time": "13:15"}}'
)


def call(name, args, key="arguments", wrap=False):
    text = json.dumps({"name": name, key: args})
    return f"<tool_call>\n{text}\n</tool_call>" if wrap else text


def test_parse_rules():
    assert parse_call("  ") is None
    assert parse_call("not json") is None
    assert parse_call('["list"]') is None
    assert parse_call('{"arguments": {}}') is None  # no name
    assert parse_call(call("a", {"x": 1}, wrap=True)).arguments == {"x": 1}
    assert parse_call('  {"name": "a", "parameters": {"y": 2}}\n').arguments == {"y": 2}
    assert parse_call('{"name": "a"}').arguments == {}
    # arguments win over parameters when both are present
    assert parse_call('{"name": "a", "arguments": {"x": 1}, "parameters": {"y": 2}}').arguments == {"x": 1}
    # stricter than agent.parse: an unclosed tag is parsed as a whole string → invalid JSON
    assert parse_call('<tool_call>{"name": "a", "arguments": {}}') is None
    # a think block before a tagged call is fine (only the inner text is parsed)
    assert parse_call('<think>hm</think><tool_call>{"name": "a", "arguments": {}}</tool_call>').name == "a"
    # ... but a bare JSON after a think block is not JSON as a whole
    assert parse_call('<think>hm</think>{"name": "a", "arguments": {}}') is None


@pytest.mark.parametrize(
    "prediction, staged, binary",
    [
        ("", 0.0, 0.0),
        ("garbage", 0.0, 0.0),
        (call("FindRestaurants", {"city": "El Cerrito"}), 0.25, 0.0),
        (call("ReserveRestaurant", {"restaurant_name": "Katana-ya", "city": "El Cerrito"}), 0.5, 0.0),
        (
            call(
                "ReserveRestaurant", {"restaurant_name": "Katana-ya", "city": "El Cerrito", "time": "1:15 pm"}
            ),
            0.75,
            0.0,
        ),
        (
            call(
                "ReserveRestaurant",
                {"time": "13:15", "city": "El Cerrito", "restaurant_name": "Katana-ya"},
                wrap=True,
            ),
            1.0,
            1.0,
        ),
        (
            call(
                "ReserveRestaurant",
                {"restaurant_name": "Katana-ya", "city": "El Cerrito", "time": "13:15"},
                "parameters",
            ),
            1.0,
            1.0,
        ),
        # values compared exactly: a number is not its string
        (
            call("ReserveRestaurant", {"restaurant_name": "Katana-ya", "city": "El Cerrito", "time": 1315}),
            0.75,
            0.0,
        ),
    ],
)
def test_staged_and_binary(prediction, staged, binary):
    assert staged_tool_call(REF, prediction) == staged
    assert binary_tool_call(REF, prediction) == binary


def test_unparseable_reference_scores_zero():
    assert staged_tool_call("oops", REF) == 0.0
    assert binary_tool_call("oops", REF) == 0.0
    assert tool_call_equivalence("oops", REF) == 0.0


def test_equivalence_ignores_arguments_equal_to_schema_defaults():
    base = {"restaurant_name": "Katana-ya", "city": "El Cerrito", "time": "13:15"}
    with_defaults = call("ReserveRestaurant", {**base, "date": "2019-03-01", "party_size": "2"})
    assert binary_tool_call(REF, with_defaults) == 0.0
    assert staged_tool_call(REF, with_defaults) == 0.5
    assert tool_call_equivalence(REF, with_defaults) == 1.0
    # a non-default value still counts
    assert tool_call_equivalence(REF, call("ReserveRestaurant", {**base, "party_size": "3"})) == 0.0
    # ...and the reference side is normalised too
    ref2 = call("ReserveRestaurant", {**base, "date": "2019-03-01"}, "parameters")
    assert tool_call_equivalence(ref2, call("ReserveRestaurant", base)) == 1.0
    assert tool_call_equivalence(REF, call("FindRestaurants", base)) == 0.0
    find = call("FindRestaurants", {"city": "Napa", "cuisine": "Thai"})
    assert (
        tool_call_equivalence(
            find, call("FindRestaurants", {"city": "Napa", "cuisine": "Thai", "price_range": "dontcare"})
        )
        == 1.0
    )


def test_rouge_is_rougeL_f_with_stemming_on_raw_strings():
    from rouge_score import rouge_scorer

    a = '{"name": "respond_to_user", "parameters": {"message": "Booking the table now"}}'
    p = '{"name": "respond_to_user", "arguments": {"message": "I booked tables"}}'
    expected = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True).score(a, p)["rougeL"].fmeasure
    assert rouge(a, p) == expected
    assert rouge(a, a) == 1.0
    assert rouge(a, "") == 0.0
    # stemming: "tables"/"table" match
    assert rouge("table", "tables") == 1.0


@pytest.mark.data
def test_schema_defaults_come_from_sgd(data_dir):
    assert sgd_schema_defaults(data_dir / "sgd") == SCHEMA_DEFAULTS
