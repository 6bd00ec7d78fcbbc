"""The sessions screen: browse logged chats, mark turns good/bad, correct a call, export traces.

Left: logged sessions (newest first), filtered by the search box. Right: the chosen session's
messages; assistant calls are focusable: `g`/`b` mark them good/bad (`u` clears), `e` opens a
form for a corrected call (a human relabel, validated, stored next to the original). `space` selects
sessions in the list, `x` exports the selection (or the open session) as benchmark traces.
"""

from __future__ import annotations

import json
from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from agent.conversation import ToolCall, is_tool_call_message
from tui.screens.prompt import AskText
from tui.screens.relabel import RelabelCall


class TurnItem(Static, can_focus=True):
    """One logged message. Assistant calls carry their message id (for labels and relabels)."""

    def __init__(self, message_id: int, message: dict, label: str | None, relabel: ToolCall | None,
                 unbacked: list[str] | None = None) -> None:
        self.message_id = message_id
        self.message = message
        self.call = ToolCall.from_message(message) if is_tool_call_message(message) else None
        self.label = label
        self.relabel = relabel
        self.unbacked = unbacked or []  # restaurants this reply named that no search returned
        super().__init__("", markup=False, classes="turn")
        self.can_focus = self.call is not None
        self.refresh_view()

    def refresh_view(self) -> None:
        self.set_class(self.label == "good", "-good")
        self.set_class(self.label == "bad", "-bad")
        text = Text()
        if self.call is None:
            text.append("user: " if self.message.get("role") == "user" else f"{self.message.get('role')}: ",
                        style="bold")
            text.append(str(self.message.get("content", "")))
        else:
            text.append(f"{self.call.name}: ", style="bold")
            text.append(self.call.message if self.call.message is not None
                        else json.dumps(self.call.arguments, ensure_ascii=False))
            if self.relabel is not None:
                text.append("\ncorrected → ", style="bold yellow")
                text.append(f"{self.relabel.name} {json.dumps(self.relabel.arguments, ensure_ascii=False)}")
            elif self.unbacked:  # worth a correction (`e`) before this session trains a model
                text.append(f"\nnot from a search: {', '.join(self.unbacked)}", style="bold red")
        self.border_title = f"#{self.message_id}" + (f" · {self.label}" if self.label else "")
        self.update(text)


class SessionsScreen(Screen):
    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("g", "label('good')", "Good"),
        Binding("b", "label('bad')", "Bad"),
        Binding("u", "label(None)", "Clear", show=False),
        Binding("e", "relabel", "Relabel"),
        Binding("space", "toggle_select", "Select", show=False),
        Binding("x", "export", "Export"),
        Binding("f1", "app.help", "Help"),
    ]

    def __init__(self, log) -> None:
        super().__init__(id="sessions")
        self.sessions_log = log
        self.selected: set[str] = set()
        self.current: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="sessions-list"):
                yield Input(placeholder="/ search sessions (text, model, id)", id="sessions-search")
                table: DataTable = DataTable(cursor_type="row", id="sessions-table")
                table.add_columns(" ", "id", "started", "turns", "first message")
                yield table
            yield VerticalScroll(id="sessions-conv")
        yield Footer()

    def on_mount(self) -> None:
        self.fill()
        self.query_one("#sessions-table", DataTable).focus()

    def fill(self, search: str | None = None) -> None:
        table = self.query_one("#sessions-table", DataTable)
        table.clear()
        for s in self.sessions_log.list_sessions(search):
            started = s.started_at.strftime("%m-%d %H:%M") if isinstance(s.started_at, datetime) else str(s.started_at)
            table.add_row(Text("●" if s.id in self.selected else " "), Text(s.id[:8]), Text(started),
                          Text(str(s.turns)), Text(s.preview), key=s.id)

    @on(Input.Changed, "#sessions-search")
    def _search(self, event: Input.Changed) -> None:
        self.fill(event.value.strip() or None)

    @on(Input.Submitted, "#sessions-search")
    def _search_done(self, event: Input.Submitted) -> None:
        self.query_one("#sessions-table", DataTable).focus()

    @on(DataTable.RowSelected, "#sessions-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.show(str(event.row_key.value))

    def show(self, session_id: str) -> None:
        record = self.sessions_log.get(session_id)
        self.current = record.id
        conv = self.query_one("#sessions-conv", VerticalScroll)
        conv.remove_children()
        conv.border_title = f"{record.id[:8]} · {record.model}"
        unbacked = record.unbacked_by_reply()
        items = [TurnItem(mid, msg, record.labels.get(mid), record.relabels.get(mid), unbacked.get(mid))
                 for mid, msg in zip(record.message_ids, record.messages, strict=True)]
        conv.mount_all(items)
        first = next((i for i in items if i.can_focus), None)
        if first is not None:
            self.call_after_refresh(first.focus)

    # -- actions ------------------------------------------------------------------------------
    def action_search(self) -> None:
        self.query_one("#sessions-search", Input).focus()

    def _focused_call(self) -> TurnItem | None:
        item = self.focused
        if isinstance(item, TurnItem) and item.call is not None:
            return item
        self.app.notify("Select an assistant call first (Tab to it).", severity="warning")
        return None

    def action_label(self, label: str | None) -> None:
        item = self._focused_call()
        if item is None:
            return
        self.sessions_log.set_label(item.message_id, label)
        item.label = label
        item.refresh_view()

    def action_relabel(self) -> None:
        item = self._focused_call()
        if item is None:
            return
        current = item.relabel or item.call
        assert current is not None

        # The form validates before it closes, so whatever comes back is a valid call (or None).
        def done(call: ToolCall | None) -> None:
            if call is None:
                return
            self.sessions_log.relabel(item.message_id, call)
            item.relabel = call
            item.refresh_view()
            self.app.notify("Correction saved next to the original call.")

        self.app.push_screen(RelabelCall(current), done)

    def action_toggle_select(self) -> None:
        table = self.query_one("#sessions-table", DataTable)
        if table.row_count == 0:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if key is None:
            return
        self.selected ^= {str(key)}
        search = self.query_one("#sessions-search", Input).value.strip() or None
        row = table.cursor_row
        self.fill(search)
        table.move_cursor(row=row)

    def action_export(self) -> None:
        ids = sorted(self.selected) or ([self.current] if self.current else [])
        if not ids:
            self.app.notify("Select sessions (space) or open one first.", severity="warning")
            return
        default = self.app.settings.home / "exports" / f"sessions-{datetime.now():%Y%m%d-%H%M%S}.jsonl"

        def done(path: str | None) -> None:
            if not path:
                return
            try:
                from pathlib import Path

                Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
                n = self.sessions_log.export(ids, Path(path).expanduser(), "context").written
            except Exception as exc:  # noqa: BLE001 - shown to the person, never a traceback
                self.app.notify(f"Export failed: {exc}", severity="error", markup=False)
                return
            self.app.notify(f"Exported {n} session(s) as traces to {path}", markup=False)

        self.app.push_screen(AskText(f"Export {len(ids)} session(s) as traces (JSONL) to:", str(default)), done)
