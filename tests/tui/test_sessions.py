"""The sessions screen on a real session log: search, open, mark good/bad, relabel a call by hand,
export the selected sessions as traces that read back."""

from __future__ import annotations

import json

import pytest
from textual.widgets import DataTable, Input

from agent.conversation import ToolCall
from agent.loop import AgentSession
from agent.trace_io import read_traces
from tests.tui.conftest import wait_for
from tests.tui.fakes import ScriptPolicy
from tui.app import RestoApp
from tui.screens.prompt import AskText
from tui.screens.sessions import SessionsScreen, TurnItem

pytestmark = pytest.mark.anyio


def chat(engine, log, user: str, calls: list[ToolCall]) -> str:
    session = AgentSession(ScriptPolicy(calls), engine, log=log, confirm_bookings=False)
    session.send(user)
    return session.session_id


@pytest.fixture
def two_sessions(engine, session_log):
    a = chat(engine, session_log, "Thai food in San Jose",
             [ToolCall("FindRestaurants", {"city": "San Jose", "cuisine": "Thai"}),
              ToolCall("respond_to_user", {"message": "Thai Orchid is open."})])
    b = chat(engine, session_log, "Breakfast in Fairfield [bold]?",
             [ToolCall("respond_to_user", {"message": "Mimi's Cafe."})])
    return a, b


async def open_session(pilot, app, session_id: str) -> None:
    table = app.screen.query_one("#sessions-table", DataTable)
    table.move_cursor(row=table.get_row_index(session_id))
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.screen.current == session_id and isinstance(app.screen.focused, TurnItem))


async def test_search_open_label_and_relabel(settings, engine, session_log, two_sessions):
    a, b = two_sessions
    app = RestoApp(settings, mode="sessions", engine=engine, log=session_log)
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.screen.query_one("#sessions-table", DataTable)
        assert table.row_count == 2
        app.screen.query_one("#sessions-search", Input).value = "Fairfield"
        await wait_for(pilot, lambda: table.row_count == 1)
        app.screen.query_one("#sessions-search", Input).value = ""
        await wait_for(pilot, lambda: table.row_count == 2)
        await open_session(pilot, app, a)
        item = app.screen.focused
        assert item.call.name == "FindRestaurants"
        await pilot.press("b")
        assert session_log.get(a).labels == {item.message_id: "bad"}
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, AskText) and app.screen.query(Input))
        fixed = {"name": "FindRestaurants", "arguments": {"city": "San Jose", "cuisine": "Thai",
                                                          "price_range": "inexpensive"}}
        app.screen.query_one(Input).value = json.dumps(fixed)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
        record = session_log.get(a)
        assert record.relabels[item.message_id].arguments["price_range"] == "inexpensive"
        assert record.messages[1]["tool_calls"][0]["function"]["arguments"] == {"city": "San Jose", "cuisine": "Thai"}
        assert "corrected" in str(item.render())


async def test_invalid_relabel_is_refused_and_nothing_is_lost(settings, engine, session_log, two_sessions):
    a, _ = two_sessions
    app = RestoApp(settings, mode="sessions", engine=engine, log=session_log)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_session(pilot, app, a)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, AskText) and app.screen.query(Input))
        app.screen.query_one(Input).value = '{"name": "FindRestaurants", "arguments": {"city": "X", "price_range": "free"}}'
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
        assert session_log.get(a).relabels == {}
        assert app.is_running


async def test_export_selected_sessions_as_traces(settings, engine, session_log, two_sessions, tmp_path):
    a, b = two_sessions
    app = RestoApp(settings, mode="sessions", engine=engine, log=session_log)
    out = tmp_path / "picked.jsonl"
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.screen.query_one("#sessions-table", DataTable)
        for sid in (a, b):
            table.move_cursor(row=table.get_row_index(sid))
            await pilot.press("space")
        assert app.screen.selected == {a, b}
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, AskText) and app.screen.query(Input))
        app.screen.query_one(Input).value = str(out)
        await pilot.press("enter")
        await wait_for(pilot, lambda: out.exists())
    traces, report = read_traces(out, strict=True)
    assert {t.meta["session_id"] for t in traces} == {a, b} and not report.skipped
