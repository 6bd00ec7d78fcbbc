"""Per-argument value accuracy and parse rate (eval.arguments), and their place in the report."""

from __future__ import annotations

import json

from eval.arguments import argument_accuracy, argument_lines, parse_rate
from eval.report import render_markdown
from eval.score import score_rows


def call(name: str, **arguments) -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


def ref(name: str, **parameters) -> str:
    return json.dumps({"name": name, "parameters": parameters})


ROWS = [
    # right function, city right, time wrong
    {"answer": ref("ReserveRestaurant", city="Oakland", time="12:00"), "prediction": call("ReserveRestaurant", city="Oakland", time="19:00")},
    # right function, time key missing
    {"answer": ref("ReserveRestaurant", city="Oakland", time="12:00"), "prediction": call("ReserveRestaurant", city="Napa")},
    # right function, a key the reference does not have
    {"answer": ref("FindRestaurants", city="Napa"), "prediction": call("FindRestaurants", city="Napa", price_range="moderate")},
    # wrong function: not counted
    {"answer": ref("ReserveRestaurant", city="Oakland", time="12:00"), "prediction": call("respond_to_user", message="hi")},
    # unparseable prediction: not counted, and not a call for the parse rate
    {"answer": ref("FindRestaurants", city="Napa", cuisine="Thai"), "prediction": '<tool_call>{"name": "FindRest'},
    {"answer": ref("respond_to_user", message="Hello"), "prediction": call("respond_to_user", message="Hello")},
]


def test_counts_only_rows_with_the_right_function():
    table = argument_accuracy(ROWS)
    assert table == {
        "FindRestaurants": {
            "city": {"n": 1, "present": 1, "exact": 1, "added": 0},
            "price_range": {"n": 0, "present": 0, "exact": 0, "added": 1},
        },
        "ReserveRestaurant": {
            "city": {"n": 2, "present": 2, "exact": 1, "added": 0},
            "time": {"n": 2, "present": 1, "exact": 0, "added": 0},
        },
        "respond_to_user": {"message": {"n": 1, "present": 1, "exact": 1, "added": 0}},
    }


def test_non_object_arguments_count_as_no_keys():
    rows = [{"answer": ref("FindRestaurants", city="Napa"), "prediction": '{"name": "FindRestaurants", "arguments": "Napa"}'}]
    assert argument_accuracy(rows) == {"FindRestaurants": {"city": {"n": 1, "present": 0, "exact": 0, "added": 0}}}


def test_parse_rate_uses_the_benchmark_parser():
    assert parse_rate(ROWS) == 5 / 6
    assert parse_rate([]) == 0.0


def test_score_result_and_report_carry_both():
    rows = [{"question": json.dumps([{"role": "user", "content": "hi"}]), **row} for row in ROWS]
    result = score_rows(rows)
    assert result.parse_rate == 5 / 6 and result.arguments == argument_accuracy(ROWS)
    assert "parse rate: 0.8333" in result.summary_lines()
    assert result.to_json()["arguments"]["ReserveRestaurant"]["time"] == {"n": 2, "present": 1, "exact": 0, "added": 0}
    markdown = render_markdown(result, {"model": "m"})
    assert "| parse rate | 0.833 |" in markdown
    assert "| ReserveRestaurant | time | 2 | 1 | 0 | 0.000 | 0 |" in markdown
    # a key only the prediction has: no reference rows, so no share, and one row added
    assert "| FindRestaurants | price_range | 0 | 0 | 0 | — | 1 |" in markdown
    assert argument_lines({}) == []
