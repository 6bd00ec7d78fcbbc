"""Fixtures for the TUI tests: a real small SQLite restaurant DB (tests/support/agent_db), the real
session log on it, and a helper that builds the app around a policy."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from agent.settings import Settings
from tests.support.agent_db import small_db


@pytest.fixture
def engine(tmp_path):
    return small_db(tmp_path / "resto.db")


@pytest.fixture
def session_log(engine):
    from agent.sessionlog import SessionLog

    return SessionLog(engine)


@pytest.fixture
def settings(tmp_path):
    return Settings(home=tmp_path / "home", db=str(tmp_path / "resto.db"))


@pytest.fixture
def make_app(settings, engine, session_log):
    from tui.app import RestoApp

    def make(policy=None, **kwargs):
        kwargs.setdefault("engine", engine)
        kwargs.setdefault("log", session_log)
        return RestoApp(kwargs.pop("settings", settings), policy=policy, **kwargs)

    return make


async def wait_for(pilot, condition, timeout: float = 10.0) -> None:
    """Let the app run until `condition()` holds (workers run on threads)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.02)


@pytest.fixture
def anyio_backend():
    """Async tests run on asyncio through anyio's pytest plugin (`pytestmark = pytest.mark.anyio`)."""
    return "asyncio"


@contextmanager
def streamed_texts() -> Iterator[list[str]]:
    """The text of the reply being streamed, recorded after every agent event the chat handles."""
    from tui.screens.chat import ChatScreen

    seen: list[str] = []
    original = ChatScreen.on_agent_event

    def spy(screen, message):
        original(screen, message)
        if screen._streaming is not None:
            seen.append(screen._streaming.text)

    ChatScreen.on_agent_event = spy
    try:
        yield seen
    finally:
        ChatScreen.on_agent_event = original
