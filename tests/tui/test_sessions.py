"""The sessions screen on a real session log: search, open, mark good/bad, relabel a call by hand
in the form (refused values keep the form open with nothing lost), export the selected sessions as
traces that read back."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, Select, Static

from agent.conversation import ToolCall
from agent.loop import AgentSession
from agent.trace_io import read_traces
from tests.tui.conftest import wait_for
from tests.tui.fakes import ScriptPolicy
from tui.app import RestoApp
from tui.screens.prompt import AskText
from tui.screens.relabel import RelabelCall
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


async def open_relabel(pilot, app) -> RelabelCall:
    await pilot.press("e")
    await wait_for(pilot, lambda: isinstance(app.screen, RelabelCall) and app.screen.query(".relabel-field Input"))
    return app.screen


def field(screen: RelabelCall, name: str) -> Input:
    return screen.query_one(f"#arg-{name}", Input)


def shown_fields(screen: RelabelCall) -> dict[str, str]:
    return {i.id.removeprefix("arg-"): i.value for i in screen.query(".relabel-field Input")}


async def switch_to(pilot, screen: RelabelCall, function: str) -> None:
    screen.query_one("#relabel-function", Select).value = function
    first = next(iter(screen.functions[function]["parameters"]["properties"]))
    await wait_for(pilot, lambda: screen.function == function and screen.query(f"#arg-{first}"))


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

        form = await open_relabel(pilot, app)
        # The form shows the call: its function and one field per parameter, filled from the call.
        assert form.query_one("#relabel-function", Select).value == "FindRestaurants"
        assert shown_fields(form) == {"cuisine": "Thai", "city": "San Jose", "price_range": "",
                                      "has_live_music": "", "serves_alcohol": ""}
        field(form, "price_range").focus()
        await pilot.press(*"inexpensive")
        assert field(form, "price_range").value == "inexpensive"

        # Another function from the keyboard (options in the schema order: respond_to_user,
        # ReserveRestaurant, FindRestaurants): same-named arguments keep their values.
        form.query_one("#relabel-function", Select).focus()
        await pilot.press("enter", "up", "enter")
        await wait_for(pilot, lambda: form.function == "ReserveRestaurant" and form.query("#arg-time"))
        assert shown_fields(form) == {"restaurant_name": "", "city": "San Jose", "time": "",
                                      "date": "", "party_size": ""}
        field(form, "restaurant_name").value = "Thai Orchid"
        field(form, "time").value = "19:00"
        # Back and forth loses nothing typed for either function.
        await switch_to(pilot, form, "FindRestaurants")
        assert field(form, "cuisine").value == "Thai" and field(form, "price_range").value == "inexpensive"
        await switch_to(pilot, form, "ReserveRestaurant")
        assert field(form, "restaurant_name").value == "Thai Orchid" and field(form, "time").value == "19:00"

        field(form, "time").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
        record = session_log.get(a)
        # Empty optional fields (date, party_size) are left out; the original call is untouched.
        assert record.relabels[item.message_id].name == "ReserveRestaurant"
        assert record.relabels[item.message_id].arguments == {"restaurant_name": "Thai Orchid",
                                                              "city": "San Jose", "time": "19:00"}
        assert record.messages[1]["tool_calls"][0]["function"]["arguments"] == {"city": "San Jose", "cuisine": "Thai"}
        assert record.labels == {item.message_id: "bad"}
        assert "corrected" in str(item.render())

        # Editing again starts from the correction, not from the original call.
        form = await open_relabel(pilot, app)
        assert form.function == "ReserveRestaurant" and field(form, "restaurant_name").value == "Thai Orchid"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
        assert session_log.get(a).relabels[item.message_id].arguments["time"] == "19:00"


async def test_a_reply_naming_a_restaurant_no_search_returned_is_marked_until_corrected(
    settings, engine, session_log, two_sessions
):
    a, b = two_sessions  # b's reply names Mimi's Cafe, which no search returned and the user never said
    app = RestoApp(settings, mode="sessions", engine=engine, log=session_log)
    assert session_log.get(a).unbacked_by_reply() == {}  # a's reply names Thai Orchid, which its search returned
    async with app.run_test(size=(140, 40)) as pilot:
        await open_session(pilot, app, b)
        item = app.screen.focused
        assert item.call.name == "respond_to_user" and "not from a search: Mimi's Cafe" in str(item.render())
        form = await open_relabel(pilot, app)
        field(form, "message").value = "Which city are you in?"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
        assert "not from a search" not in str(item.render()) and "corrected" in str(item.render())
        assert session_log.get(b).unbacked_names() == []


async def test_invalid_relabel_keeps_the_form_open_and_nothing_is_lost(settings, engine, session_log, two_sessions):
    a, _ = two_sessions
    app = RestoApp(settings, mode="sessions", engine=engine, log=session_log)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_session(pilot, app, a)
        item = app.screen.focused
        form = await open_relabel(pilot, app)
        error = form.query_one("#relabel-error", Static)
        assert not error.display
        await switch_to(pilot, form, "ReserveRestaurant")
        field(form, "restaurant_name").value = "Thai Orchid"
        field(form, "time").value = "19:00"
        field(form, "party_size").value = "abc"
        await pilot.press("ctrl+s")
        await pilot.pause(0.05)
        # Refused: the form is still there with the reason inside it, and every value as typed.
        assert app.screen is form and error.display
        assert "party_size" in str(error.render()) and "abc" in str(error.render())
        typed = {"restaurant_name": "Thai Orchid", "city": "San Jose", "time": "19:00", "date": "",
                 "party_size": "abc"}
        assert shown_fields(form) == typed
        assert session_log.get(a).relabels == {}

        # A required field left empty is refused the same way (Enter in a field saves too).
        field(form, "party_size").value = "4"
        field(form, "time").value = ""
        field(form, "party_size").focus()
        await pilot.press("enter")
        await pilot.pause(0.05)
        assert app.screen is form and "missing required parameter 'time'" in str(error.render())
        assert shown_fields(form) == {**typed, "party_size": "4", "time": ""}
        assert session_log.get(a).relabels == {}

        # Fixed: the Save button stores it.
        field(form, "time").value = "19:30"
        await pilot.click("#relabel-save")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
        assert session_log.get(a).relabels[item.message_id].arguments == {
            "restaurant_name": "Thai Orchid", "city": "San Jose", "time": "19:30", "party_size": "4"}
        assert app.is_running


async def test_escape_in_the_relabel_form_stores_nothing(settings, engine, session_log, two_sessions):
    a, _ = two_sessions
    app = RestoApp(settings, mode="sessions", engine=engine, log=session_log)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_session(pilot, app, a)
        item = app.screen.focused
        form = await open_relabel(pilot, app)
        field(form, "city").value = "Fairfield"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionsScreen))
        assert session_log.get(a).relabels == {}
        assert item.relabel is None and "corrected" not in str(item.render())


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
