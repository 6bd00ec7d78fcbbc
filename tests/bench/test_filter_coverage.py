"""bench/filter_coverage.py: agreement with SGD's annotations, and the key sets of the test searches."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from agent.conversation import user_message
from eval.expand import ExpandedRow

SPEC = importlib.util.spec_from_file_location("filter_coverage", Path(__file__).parents[2] / "bench" / "filter_coverage.py")
filter_coverage = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(filter_coverage)


def test_each_turn_counts_right_wrong_missed_or_spurious():
    turns = [
        (True, "Somewhere cheap please.", {"price_range": "inexpensive"}),  # right
        (True, "Somewhere pricey please.", {"price_range": "moderate"}),  # wrong value
        (True, "Any place is fine.", {"serves_alcohol": "True"}),  # missed
        (False, "With live music.", {}),  # spurious, on a multi-domain turn
        (True, "Any price is fine.", {"price_range": None}),  # a lifted filter, read as one: right
    ]
    table = filter_coverage.annotation_agreement(turns)
    assert table[("single-domain", "price_range")] == {"right": 2, "wrong": 1}
    assert table[("single-domain", "serves_alcohol")] == {"missed": 1}
    assert table[("multi-domain", "has_live_music")] == {"spurious": 1}


def row(texts: list[str], name: str, **parameters) -> ExpandedRow:
    answer = json.dumps({"name": name, "parameters": parameters})
    return ExpandedRow(json.dumps([user_message(t) for t in texts]), answer, 0, 1)


def test_test_searches_compare_the_grounded_filter_keys_with_the_reference():
    rows = [
        row(["Thai in Napa, something cheap"], "FindRestaurants", city="Napa", cuisine="Thai", price_range="inexpensive"),
        row(["Thai in Napa"], "FindRestaurants", city="Napa", cuisine="Thai", serves_alcohol="True"),
        row(["Thai in Napa, with live music"], "FindRestaurants", city="Napa", cuisine="Thai"),
        row(["Thai in Napa, something pricey"], "FindRestaurants", city="Napa", cuisine="Thai", price_range="moderate"),
        row(["hi"], "respond_to_user", message="hello"),  # not a search: not counted
    ]
    counts = filter_coverage.test_searches(rows)
    assert counts == {"rows": 4, "with a filter": 3, "same keys": 2, "same keys and values": 1,
                      "a key missing": 1, "a key added": 1}


def test_the_sgd_reader_finds_restaurant_turns_and_their_informs(data_dir):
    turns = list(filter_coverage.annotated_turns(data_dir / "sgd"))
    single = [t for t in turns if t[0]]
    assert len(single) > 1000 and any(t[0] is False for t in turns)
    assert any(said.get("price_range") == "moderate" for _, _, said in single)
    assert any("price_range" in said and said["price_range"] is None for _, _, said in single)  # dontcare
