"""The chat screen's side panel: the session's reservations (live from the database) and the
model in use with the last turn's latency and tokens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

ReservationLoader = Callable[[], list[dict[str, Any]]]


class ReservationsPanel(Vertical):
    """Reservations made in this session. `refresh_rows()` re-reads them (after every tool result)."""

    def __init__(self, loader: ReservationLoader | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="panel")
        self.loader = loader
        self.border_title = "reservations"

    def compose(self) -> ComposeResult:
        table: DataTable = DataTable(cursor_type="none", show_cursor=False)
        table.add_columns("restaurant", "city", "when", "n")
        yield table
        yield Static(Text("none yet"), classes="empty", markup=False)

    def on_mount(self) -> None:
        self.refresh_rows()

    def refresh_rows(self, rows: list[dict[str, Any]] | None = None) -> None:
        if rows is None:
            try:
                rows = self.loader() if self.loader else []
            except Exception as exc:  # a locked or missing database must not break the chat
                self.query_one(".empty", Static).update(Text(f"database unavailable: {exc}"))
                return
        table = self.query_one(DataTable)
        table.clear()
        for r in rows:
            when = f"{str(r.get('date') or '')[5:]} {r.get('time') or ''}".strip()  # "03-03 11:30"
            table.add_row(Text(str(r.get("restaurant_name", ""))), Text(str(r.get("city", ""))), Text(when),
                          Text(str(r.get("party_size", ""))))
        self.query_one(".empty", Static).display = not rows
        self.rows = rows


@dataclass
class TurnStats:
    steps: int = 0
    latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cancelled: bool = False


class StatsPanel(Static):
    """Model / adapter / endpoint in use and the stats of the last turn."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, classes="panel", markup=False)
        self.border_title = "model"
        self.model_lines: list[tuple[str, str]] = []
        self.last: TurnStats | None = None

    def set_model(self, lines: list[tuple[str, str]]) -> None:
        self.model_lines = lines
        self._render_text()

    def set_turn(self, stats: TurnStats) -> None:
        self.last = stats
        self._render_text()

    def _render_text(self) -> None:
        text = Text()
        for key, value in self.model_lines:
            text.append(f"{key}: ", style="bold")
            text.append(f"{value}\n")
        if self.last is None:
            text.append("last turn: —")
        else:
            s = self.last
            text.append("last turn: ", style="bold")
            text.append(f"{s.latency_s:.2f}s, {s.steps} step{'s' if s.steps != 1 else ''}\n")
            text.append("tokens: ", style="bold")
            text.append(f"{s.prompt_tokens} in / {s.completion_tokens} out")
            if s.cancelled:
                text.append("\n(cancelled)")
        self.update(text)
