"""bench/grounding_coverage.py: each reference value is counted as reachable, the only one, lost or free."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from agent.conversation import user_message
from agent.grounding import Gazetteer
from eval.expand import ExpandedRow

SPEC = importlib.util.spec_from_file_location(
    "grounding_coverage", Path(__file__).parents[2] / "bench" / "grounding_coverage.py"
)
grounding_coverage = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(grounding_coverage)


def row(text: str, name: str, **parameters) -> ExpandedRow:
    answer = json.dumps({"name": name, "parameters": parameters})
    return ExpandedRow(json.dumps([user_message(text)]), answer, 0, 1)


def test_counts_reachable_only_lost_and_free():
    gaz = Gazetteer({"city": ["San Jose", "Fairfield"], "restaurant_name": ["Thai Orchid"]})
    rows = [
        row("Thai Orchid in San Jose or Fairfield at 7 pm", "ReserveRestaurant", restaurant_name="Thai Orchid",
            city="Fairfield", time="19:30", party_size="2"),
        row("hi", "respond_to_user", message="hello"),  # not a service call: not counted
    ]
    table = grounding_coverage.coverage(rows, gaz)
    assert table[("ReserveRestaurant", "restaurant_name")] == {"rows": 1, "reachable": 1, "only": 1}
    assert table[("ReserveRestaurant", "city")] == {"rows": 1, "reachable": 1}  # San Jose allowed too
    assert table[("ReserveRestaurant", "time")] == {"rows": 1, "lost": 1}  # 19:00 allowed, 19:30 not
    assert table[("ReserveRestaurant", "party_size")] == {"rows": 1, "free": 1}
    assert len(table) == 4
