"""Pilot tests of the chat screen: a request with a tool card and a streamed reply, Esc cancelling
generation, booking confirmation, plain-text rendering of hostile text, export, copy, the palette."""

from __future__ import annotations

import json
import threading

import pytest
from textual.widgets import DataTable, Input

from agent.conversation import ToolCall
from tests.tui.conftest import streamed_texts, wait_for
from tests.tui.fakes import ScriptPolicy
from tui.screens.chat import ChatScreen
from tui.screens.confirm import ConfirmBooking
from tui.widgets.message import MessageBubble
from tui.widgets.panels import ReservationsPanel, StatsPanel
from tui.widgets.tool_card import ToolCallCard

pytestmark = pytest.mark.anyio

SEARCH = ToolCall("FindRestaurants", {"city": "San Jose", "cuisine": "Thai"})
BOOK = ToolCall("ReserveRestaurant", {"restaurant_name": "Thai Orchid", "city": "San Jose", "time": "19:00",
                                      "date": "2019-03-01", "party_size": "2"})


def say(text: str) -> ToolCall:
    return ToolCall("respond_to_user", {"message": text})


def bubbles(app, role: str) -> list[str]:
    return [b.text for b in app.screen.query(MessageBubble) if b.role == role]


async def type_and_send(pilot, text: str) -> None:
    prompt = pilot.app.screen.query_one("#prompt", Input)
    prompt.value = text
    await pilot.press("enter")


async def until_idle(pilot) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ChatScreen) and not pilot.app.screen.busy)


async def test_request_shows_tool_card_results_table_and_streamed_reply(make_app, session_log):
    policy = ScriptPolicy([SEARCH, say("Thai Orchid in San Jose is inexpensive. Shall I book it?")])
    app = make_app(policy)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"Thai food in San Jose", "enter")
        await until_idle(pilot)
        screen = app.screen
        assert bubbles(app, "user") == ["Thai food in San Jose"]
        assert bubbles(app, "assistant") == ["Thai Orchid in San Jose is inexpensive. Shall I book it?"]
        card = screen.query_one(ToolCallCard)
        assert card.call.name == "FindRestaurants" and card.results[0]["restaurant_name"] == "Thai Orchid"
        card.collapsed = False
        await pilot.pause()
        table = card.query_one(DataTable)
        assert table.row_count == 1 and "Thai Orchid" in str(table.get_row_at(0)[0])
        stats = screen.query_one(StatsPanel)
        assert stats.last is not None and stats.last.steps == 2 and stats.last.completion_tokens == 14
        assert not screen.query_one("#prompt", Input).disabled
        # the turn is in the session log, with both calls
        (summary,) = session_log.list_sessions()
        record = session_log.get(summary.id)
        assert [m["role"] for m in record.messages] == ["user", "assistant", "user", "assistant"]


async def test_a_recommendation_no_search_returned_gets_a_notice(make_app):
    # the search in San Jose returns Thai Orchid; Mimi's Cafe (also in the database) was never returned
    policy = ScriptPolicy([SEARCH, say("How about Mimi's Cafe? Thai Orchid is fine too.")])
    app = make_app(policy)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "Thai food in San Jose")
        await until_idle(pilot)
        assert bubbles(app, "assistant") == ["How about Mimi's Cafe? Thai Orchid is fine too."]
        (notice,) = [n for n in bubbles(app, "notice") if n.startswith("Not from a search")]
        assert notice.startswith("Not from a search in this chat: Mimi's Cafe.")


async def test_reply_streams_token_by_token(make_app):
    policy = ScriptPolicy([say("one two three four five six")], chunk=3)
    app = make_app(policy)
    async with app.run_test(size=(100, 30)) as pilot:
        with streamed_texts() as seen:
            await type_and_send(pilot, "hi")
            await until_idle(pilot)
    assert "one" in seen and seen[-1] == "one two three four five six"  # grew piece by piece


async def test_escape_stops_generation_and_unlocks_input(make_app):
    gate = threading.Event()
    policy = ScriptPolicy([say("never shown")], block=gate)
    app = make_app(policy)
    async with app.run_test(size=(100, 30)) as pilot:
        await type_and_send(pilot, "something slow")
        await wait_for(pilot, lambda: app.screen.busy and len(policy.seen) == 1)
        assert app.screen.query_one("#prompt", Input).disabled  # locked while the agent works
        await pilot.press("escape")
        await until_idle(pilot)
        assert policy.cancelled.is_set()  # the policy itself saw the cancel (decoding stopped)
        assert "Stopped." in bubbles(app, "notice")
        assert "never shown" not in bubbles(app, "assistant")
        assert not app.screen.query_one("#prompt", Input).disabled
        assert app.screen.query_one(StatsPanel).last.cancelled


@pytest.mark.parametrize("answer, booked", [("y", True), ("n", False)])
async def test_booking_asks_the_human_first(make_app, engine, answer, booked):
    policy = ScriptPolicy([BOOK, say("Done!" if booked else "OK, I did not book it.")])
    app = make_app(policy)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, "Yes, please book it")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmBooking))
        await pilot.press(answer)
        await until_idle(pilot)
        rows = app.screen.query_one(ReservationsPanel).rows
        if booked:
            assert [(r["restaurant_name"], r["time"], r["party_size"]) for r in rows] == [("Thai Orchid", "19:00", 2)]
            assert app.screen.query_one(ToolCallCard).results[0]["restaurant_name"] == "Thai Orchid"
        else:
            assert rows == [] and not list(app.screen.query(ToolCallCard))
            # the model was told the user declined (a note not kept in the history)
            assert "declined" in policy.seen[-1][-1]["content"]


HOSTILE = ["[bold]not bold[/bold]", "[/]", "[link=https://evil.example]click[/link]", '["a", {"b": [1, 2]}]',
           "[red", "\\[escaped]", "[@click=app.quit]x[/]"]


@pytest.mark.parametrize("text", HOSTILE)
async def test_markup_is_shown_literally_everywhere(make_app, text):
    call = ToolCall("FindRestaurants", {"city": text, "cuisine": "Thai"})
    policy = ScriptPolicy([call, say(text)])
    app = make_app(policy)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_and_send(pilot, text)
        await until_idle(pilot)
        assert app.is_running
        assert bubbles(app, "user") == [text] and bubbles(app, "assistant") == [text]
        for bubble in app.screen.query(MessageBubble):
            assert str(bubble.render()) == bubble.text  # rendered characters = the raw text
        card = app.screen.query_one(ToolCallCard)
        card.collapsed = False
        await pilot.pause()
        assert json.dumps(text) in str(card.query_one(".args").render())


async def test_loop_failure_restores_the_input(make_app):
    app = make_app(ScriptPolicy([]))
    async with app.run_test(size=(100, 30)) as pilot:
        def boom(text, cancel=None):
            raise RuntimeError("database is locked")

        app.screen.session.send = boom
        await type_and_send(pilot, "book Thai Orchid")
        await until_idle(pilot)
        assert any("database is locked" in t for t in bubbles(app, "error"))
        assert app.screen.query_one("#prompt", Input).value == "book Thai Orchid"


async def test_palette_has_every_action_and_export_and_copy_work(make_app, settings):
    app = make_app(ScriptPolicy([say("Hello [b]there[/b]")]))
    async with app.run_test(size=(100, 30)) as pilot:
        await type_and_send(pilot, "hi")
        await until_idle(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for wanted in ("New session", "Switch model", "Switch adapter", "Switch endpoint",
                       "Export session as Markdown", "Export session as JSON", "Copy message", "Help: keys"):
            assert wanted in titles
        sid = app.screen.session.session_id
        await pilot.press("ctrl+s")
        md = (settings.home / "exports" / f"{sid}.md").read_text()
        assert "**you:** hi" in md and "**resto:** Hello [b]there[/b]" in md
        app.screen.action_export("json")
        data = json.loads((settings.home / "exports" / f"{sid}.json").read_text())
        assert data["messages"][0] == {"role": "user", "content": "hi"}
        await pilot.press("ctrl+y")
        assert (settings.home / "clipboard.txt").read_text() == "Hello [b]there[/b]"
        await pilot.press("ctrl+n")
        assert app.screen.session.session_id != sid and bubbles(app, "user") == []


async def test_help_screen_opens_and_closes(make_app):
    from tui.screens.help import HelpScreen

    app = make_app(ScriptPolicy([]))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, ChatScreen)


async def test_escape_stops_a_real_model_mid_decoding(make_app, tiny_model_dir):
    """A tiny local transformers model told never to stop (no stop tokens, no length limit) only
    ends its turn because Esc reached the decoding loop."""
    from agent.model_loading import load_model
    from agent.policies.hf import HFPolicy

    policy = HFPolicy(load_model(str(tiny_model_dir)), max_new_tokens=10**9)
    policy._stop_ids = set()
    app = make_app(policy)
    async with app.run_test(size=(100, 30)) as pilot:
        await type_and_send(pilot, "A table for two")
        await wait_for(pilot, lambda: app.screen.busy)
        await pilot.pause(1.0)  # decoding for a second
        assert app.screen.busy
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.screen.busy, timeout=10)
        stats = app.screen.query_one(StatsPanel).last
        assert stats.cancelled and stats.completion_tokens > 0


async def test_an_unbuilt_database_is_explained(settings, tmp_path):
    from backend.db import make_engine
    from tui.app import RestoApp

    app = RestoApp(settings, policy=ScriptPolicy([]), engine=make_engine(tmp_path / "empty.db"))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.pause()
        assert any("resto db build" in n.message for n in app._notifications)
