"""Per-argument value accuracy: where a model that names the right function goes wrong.

    table = argument_accuracy(rows)      # rows with "answer" and "prediction" (raw strings)
    table["ReserveRestaurant"]["time"]   # {"n": 40, "present": 39, "exact": 6, "added": 0}

Counted over the rows whose prediction parses and names the reference's function (the benchmark's
parser, eval.metrics): for each argument of the reference call, `n` rows, `present` those whose
predicted call has that key, `exact` those whose value is equal (compared exactly, as
binary_tool_call does); `added` counts the rows whose predicted call has the key while the reference
does not. `staged_tool_call` gives such a row 0.75 when a single value differs, so this table says
which values hold a model below 1.0: a model that copies nothing from the conversation scores well on
`party_size` ("2" is the usual answer) and near zero on `restaurant_name`. A key missing (n − present)
or added drops the row to 0.5, the score of a wrong key set: FindRestaurants' optional filters
(price_range, has_live_music, serves_alcohol) are where that happens. Calls whose arguments are not a
JSON object count as having no keys.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from eval.metrics import parse_call


def argument_accuracy(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, int]]]:
    """{function: {argument: {"n", "present", "exact", "added"}}}, functions and arguments sorted."""
    table: dict[str, dict[str, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: {"n": 0, "present": 0, "exact": 0, "added": 0})
    )
    for row in rows:
        ref, pred = parse_call(row["answer"]), parse_call(row["prediction"])
        if ref is None or pred is None or ref.name != pred.name or not isinstance(ref.arguments, dict):
            continue
        predicted = pred.arguments if isinstance(pred.arguments, dict) else {}
        for key, value in ref.arguments.items():
            cell = table[ref.name][key]
            cell["n"] += 1
            cell["present"] += key in predicted
            cell["exact"] += key in predicted and predicted[key] == value
        for key in predicted.keys() - ref.arguments.keys():
            table[ref.name][key]["added"] += 1
    return {name: {key: dict(table[name][key]) for key in sorted(table[name])} for name in sorted(table)}


def parse_rate(rows: list[dict[str, Any]]) -> float:
    """The share of predictions the benchmark's parser reads as a call."""
    return sum(parse_call(row["prediction"]) is not None for row in rows) / len(rows) if rows else 0.0


def argument_lines(table: dict[str, dict[str, dict[str, int]]]) -> list[str]:
    """The markdown table of report.md (empty when no row has a right function with arguments)."""
    lines = []
    for name, arguments in table.items():
        for key, cell in arguments.items():
            added = cell["added"]
            if cell["n"] or added:
                share = f"{cell['exact'] / cell['n']:.3f}" if cell["n"] else "—"
                lines.append(
                    f"| {name} | {key} | {cell['n']} | {cell['present']} | {cell['exact']} | {share} | {added} |"
                )
    if not lines:
        return []
    header = "| function | argument | n | key present | value exact | exact share | key added (not in reference) |"
    return [header, "| --- | --- | --- | --- | --- | --- | --- |", *lines]
