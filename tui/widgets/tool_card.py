"""A tool call as a compact card: the tool and its arguments, expanding to the result.

FindRestaurants results are shown as a table; other results as the JSON the model sees.
Everything is plain text (Content / rich Text), never markup.
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Collapsible, DataTable, Static

from agent.conversation import ToolCall

# Columns shown first in the results table, in this order; any other keys follow.
PREFERRED_COLUMNS = ["restaurant_name", "city", "cuisine", "price_range", "street_address", "phone_number",
                     "has_live_music", "serves_alcohol", "date", "time", "party_size"]


def call_summary(call: ToolCall, width: int = 70) -> str:
    """`FindRestaurants(city="San Jose", cuisine="Mexican")`, shortened to `width` characters."""
    args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in call.arguments.items())
    text = f"{call.name}({args})"
    return text if len(text) <= width else text[: width - 1] + "…"


def result_columns(results: list[dict[str, Any]]) -> list[str]:
    keys: list[str] = []
    for row in results:
        for key in row:
            if key not in keys:
                keys.append(key)
    ordered = [k for k in PREFERRED_COLUMNS if k in keys]
    return ordered + [k for k in keys if k not in ordered]


def results_table(results: list[dict[str, Any]]) -> DataTable:
    table: DataTable = DataTable(zebra_stripes=True, cursor_type="row", classes="results")
    columns = result_columns(results)
    for col in columns:
        table.add_column(Text(col), key=col)
    for row in results:
        table.add_row(*(Text("" if row.get(c) is None else str(row.get(c))) for c in columns))
    return table


class ToolCallCard(Collapsible):
    """Collapsed: `▶ FindRestaurants(city="…")`. Expanded: the arguments and the result."""

    def __init__(self, call: ToolCall, *, id: str | None = None) -> None:
        self.call = call
        self.results: list[dict[str, Any]] | None = None
        self.error: str | None = None
        self._ready = False
        self._status = Static(Text("running…"), classes="result-status", markup=False)
        self._body = Vertical(
            Static(Text(json.dumps(call.arguments, indent=2, ensure_ascii=False)), classes="args", markup=False),
            self._status,
            classes="card-body",
        )
        super().__init__(self._body, title=Content(call_summary(call)), collapsed=True, id=id,
                         classes="tool-card")

    def on_mount(self) -> None:
        self._ready = True
        if self.results is not None:
            self._apply()

    def set_result(self, results: list[dict[str, Any]], error: str | None = None) -> None:
        """Show the tool's result (UI thread; the result may arrive before the card is mounted)."""
        self.results, self.error = results, error
        if self._ready:
            self._apply()

    def _apply(self) -> None:
        results, error = self.results or [], self.error
        if error:
            self.add_class("-error")
            self._status.update(Text(f"error: {error}"))
            self.title = Content(f"{call_summary(self.call, 44)} → error")
            return
        n = len(results)
        self._status.update(Text(f"{n} result{'s' if n != 1 else ''}"))
        self.title = Content(f"{call_summary(self.call, 44)} → {n} result{'s' if n != 1 else ''}")
        if self.call.name == "FindRestaurants" and results:
            self._body.mount(results_table(results))
        elif results:
            self._body.mount(Static(Text(json.dumps(results, indent=2, ensure_ascii=False)), markup=False,
                                    classes="result-json"))
