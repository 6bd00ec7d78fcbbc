"""The plain REPL (`resto chat --plain`) driven through text streams, on a real database."""

from __future__ import annotations

import io

import pytest

from agent.conversation import ToolCall
from agent.policies.replay import ReplayPolicy
from agent.repl import run_repl
from agent.sessionlog import SessionLog
from agent.settings import Settings
from tests.support.agent_db import ScriptedPolicy, small_db

CONVERSATION = [
    {"role": "user", "content": "Thai in San Jose?"},
    ToolCall("FindRestaurants", {"city": "San Jose", "cuisine": "Thai"}).to_message(),
    {"role": "user", "content": "[]"},
    ToolCall("respond_to_user", {"message": "Thai Orchid is cheap and good."}).to_message(),
    {"role": "user", "content": "thanks"},
    ToolCall("respond_to_user", {"message": "Enjoy!"}).to_message(),
]


@pytest.fixture
def engine(tmp_path):
    return small_db(tmp_path / "resto.db")


def test_piped_conversation_is_printed_and_logged(engine):
    out = io.StringIO()
    stdin = io.StringIO("Thai in San Jose?\n\nthanks\n")
    assert run_repl(Settings(), ReplayPolicy(CONVERSATION), engine, stdin, out) == 0
    text = out.getvalue()
    assert "you: Thai in San Jose?" in text
    assert '· FindRestaurants({"city": "San Jose", "cuisine": "Thai"})' in text
    assert "· 1 result\n" in text  # the real search found Thai Orchid
    assert "resto: Thai Orchid is cheap and good.\n" in text
    assert "resto: Enjoy!\n" in text
    sessions = SessionLog(engine).list_sessions()
    assert len(sessions) == 1 and sessions[0].turns == 2
    assert f"resto sessions show {sessions[0].id[:12]}" in text


def test_new_and_quit_commands(engine):
    out = io.StringIO()
    stdin = io.StringIO("Thai in San Jose?\n/new\nThai in San Jose?\n/quit\nnever read\n")
    run_repl(Settings(), ReplayPolicy(CONVERSATION), engine, stdin, out)
    assert out.getvalue().count("resto: Thai Orchid is cheap and good.") == 2
    assert "never read" not in out.getvalue()
    assert len(SessionLog(engine).list_sessions()) == 2


def test_errors_are_shown_not_raised(engine):
    out = io.StringIO()
    run_repl(Settings(), ScriptedPolicy(["garbage", "more garbage"]), engine, io.StringIO("hi\n"), out)
    assert "retrying:" in out.getvalue() and "error:" in out.getvalue()
    assert "Sorry, something went wrong" in out.getvalue()


def test_booking_held_until_confirmed(engine):
    reserve = ToolCall(
        "ReserveRestaurant", {"restaurant_name": "Thai Orchid", "city": "San Jose", "time": "19:00"}
    )
    out = io.StringIO()
    run_repl(
        Settings(),
        ScriptedPolicy([reserve.to_text(), reserve.to_text()]),
        engine,
        io.StringIO("book Thai Orchid at 7pm\n"),
        out,
    )
    assert "booking held until you confirm" in out.getvalue()
    assert "Just to confirm: shall I book a table at Thai Orchid in San Jose at 19:00?" in out.getvalue()
