"""An SVG snapshot per screen (pytest-textual-snapshot). Update after an intended change with
`pytest tests/tui/test_snapshots.py --snapshot-update` and look at the SVGs before committing.

Inputs are fixed so the pictures are stable: scripted policies (fixed latency and tokens), a
fixed home path, and for the sessions screen a fixed two-session log (its real one stamps times).
Every `run_before` ends with `steady_cursor`: a text input's cursor blinks every 0.5 s, so a picture
taken after a wait shows it on or off by chance (a busy CI machine caught it off once).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from agent.conversation import ToolCall
from agent.sessionlog import SessionRecord, SessionSummary, TurnRecord
from agent.settings import Settings
from tests.tui.conftest import wait_for
from tests.tui.fakes import ScriptPolicy
from tui.app import RestoApp

SIZE = (120, 36)
SEARCH = ToolCall("FindRestaurants", {"city": "San Jose", "cuisine": "Thai"})
BOOK = ToolCall("ReserveRestaurant", {"restaurant_name": "Thai Orchid", "city": "San Jose", "time": "19:00",
                                      "date": "2019-03-01", "party_size": "2"})


def say(text: str) -> ToolCall:
    return ToolCall("respond_to_user", {"message": text})


async def steady_cursor(pilot) -> None:
    """Stop the focused input's cursor blinking, which leaves it shown (as a fresh focus shows it)."""
    from textual.widgets import Input

    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


async def send(pilot, text: str) -> None:
    pilot.app.screen.query_one("#prompt").value = text
    await pilot.press("enter")


def test_chat_screen(snap_compare, make_app):
    app = make_app(ScriptPolicy([SEARCH, say("Thai Orchid at 12 Market Street is inexpensive. Book a table?")]))

    async def run_before(pilot):
        await send(pilot, "Cheap Thai food in San Jose, [bold]please[/]")
        await wait_for(pilot, lambda: not pilot.app.screen.busy)
        card = pilot.app.screen.query_one(".tool-card")
        card.collapsed = False
        await pilot.pause(0.1)
        await steady_cursor(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_confirm_booking_modal(snap_compare, make_app):
    app = make_app(ScriptPolicy([BOOK, say("Booked!")]))

    async def run_before(pilot):
        from tui.screens.confirm import ConfirmBooking

        await send(pilot, "Yes, book it")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmBooking))
        await pilot.pause(0.1)
        await steady_cursor(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare, make_app):
    assert snap_compare(make_app(ScriptPolicy([])), terminal_size=SIZE, press=["f1"])


def test_no_model_screen(snap_compare):
    from tui.screens.no_model import NoModelScreen

    app = RestoApp(Settings(home=Path("/home/you/.resto")))

    async def run_before(pilot):
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, NoModelScreen) and pilot.app.screen.query("#model-source"))
        await pilot.pause(3.5)  # let the "Loading the model…" toast expire
        await steady_cursor(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


@pytest.mark.data
def test_replay_screen(snap_compare, data_dir, settings):
    from agent.policies.replay import ReplayPolicy
    from tui.replay import DialogueIndex, ReplaySetup

    index = DialogueIndex(Settings(data_dir=data_dir))
    dialogue = index.get("test-05")
    policy = ReplayPolicy(dialogue.messages)
    policy.description = "replay: test-05"
    app = RestoApp(settings, mode="replay", replay=ReplaySetup(index, policy, dialogue_id="test-05"))

    async def run_before(pilot):
        await pilot.press("n")
        await wait_for(pilot, lambda: len(pilot.app.screen.results) == 1)
        await pilot.press("n")
        await wait_for(pilot, lambda: len(pilot.app.screen.results) == 2)
        await pilot.pause(0.1)
        await steady_cursor(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


class FixedLog:
    """Two logged sessions with fixed ids and times (the real SessionLog's API, read side)."""

    WHEN = datetime(2026, 11, 24, 19, 30)
    MESSAGES = [
        {"role": "user", "content": "Thai food in San Jose"},
        SEARCH.to_message(),
        {"role": "user", "content": '[{"restaurant_name": "Thai Orchid", "city": "San Jose"}]'},
        say("Thai Orchid is open. Shall I book it?").to_message(),
    ]

    def list_sessions(self, search=None, limit=100):
        rows = [SessionSummary("a1b2c3d4e5", self.WHEN, self.WHEN, "tiny", None, 1, 4, "Thai food in San Jose"),
                SessionSummary("f6e5d4c3b2", self.WHEN, self.WHEN, "tiny", None, 1, 2, "Breakfast in Fairfield")]
        return [r for r in rows if not search or search.lower() in r.preview.lower()]

    def get(self, session_id):
        return SessionRecord("a1b2c3d4e5", self.WHEN, "tiny", None, self.MESSAGES, [1, 2, 3, 4],
                             [TurnRecord(0, self.WHEN, [1, 2, 3, 4], 0.02, 40, 14)], {2: "good"},
                             {4: say("Thai Orchid (12 Market Street) is open. Book it?")})


def test_sessions_screen(snap_compare, settings):
    app = RestoApp(settings, mode="sessions", log=FixedLog())

    async def run_before(pilot):
        await pilot.press("enter")
        await wait_for(pilot, lambda: pilot.app.screen.current == "a1b2c3d4e5")
        await pilot.pause(0.1)
        await steady_cursor(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_relabel_form(snap_compare, settings):
    """The sessions screen's relabel form over the open session, after a refused save: the error
    is shown inside the form and the typed value is still in its field."""
    from tui.screens.relabel import RelabelCall
    from tui.screens.sessions import TurnItem

    app = RestoApp(settings, mode="sessions", log=FixedLog())

    async def run_before(pilot):
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen.focused, TurnItem))
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, RelabelCall)
                       and pilot.app.screen.query("#arg-price_range"))
        pilot.app.screen.query_one("#arg-price_range").value = "cheap"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#relabel-error").display)
        await pilot.pause(0.1)
        await steady_cursor(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
