"""With no model the app still opens, on one screen that says how to get one; giving a model path
there (a tiny local model) leads to a working chat. No traceback ever reaches the person."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tests.tui.conftest import wait_for
from tui.app import RestoApp, default_resolver
from tui.screens.chat import ChatScreen
from tui.screens.no_model import NoModelScreen
from tui.widgets.message import MessageBubble

pytestmark = pytest.mark.anyio


def test_resolver_without_any_model_explains_how_to_get_one(settings):
    resolved = default_resolver(settings)
    assert resolved.policy is None
    assert "resto model demo" in resolved.howto and "--endpoint" in resolved.howto


def test_resolver_with_a_broken_model_path_gives_one_sentence(settings, tmp_path):
    broken = tmp_path / "not-a-model"
    broken.mkdir()
    resolved = default_resolver(settings.model_copy(update={"model": str(broken)}))
    assert resolved.policy is None and resolved.reason and "\n" not in resolved.reason.strip()


async def test_no_model_screen_then_a_tiny_model_chats(settings, engine, session_log, tiny_model_dir):
    app = RestoApp(settings, engine=engine, log=session_log)
    async with app.run_test(size=(110, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, NoModelScreen) and app.screen.query("#model-source"))
        howto = str(app.screen.query_one("#no-model-howto").render())
        assert "resto model demo" in howto and "resto chat --endpoint" in howto
        app.screen.query_one("#model-source", Input).value = str(tiny_model_dir)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen) and app.screen.query("#prompt"), timeout=60)
        assert app.resolved is not None and ("model", str(tiny_model_dir)) in app.resolved.lines
        app.screen.query_one("#prompt", Input).value = "A table for two in San Jose tonight"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not app.screen.busy and len(session_log.list_sessions()) == 1, timeout=120)
        # a random-init model writes nonsense: the loop repairs, then apologises — the app lives on
        replies = [b.text for b in app.screen.query(MessageBubble) if b.role == "assistant"]
        assert len(replies) == 1 and replies[0]
        assert not app.screen.query_one("#prompt", Input).disabled


def test_resolver_loads_an_ensemble_and_guides_when_asked(settings, tiny_model_dir, tmp_path):
    from agent.ensemble import build_ensemble_dir
    from agent.ensemble_lm import EnsembleLM

    pair = build_ensemble_dir(tmp_path / "pair", [tiny_model_dir, tiny_model_dir], tiny_model_dir)
    free = default_resolver(settings.model_copy(update={"model": str(pair)}))
    assert isinstance(free.policy.model, EnsembleLM) and free.policy.guide is None
    guided = default_resolver(settings.model_copy(update={"model": str(pair), "guided_decoding": True}))
    assert guided.policy.guide is not None and ("decoding", "guided (tool schemas)") in guided.lines


def test_resolver_builds_an_endpoint_policy(settings):
    from agent.policies.openai import OpenAIPolicy

    resolved = default_resolver(settings.model_copy(update={"endpoint": "http://127.0.0.1:9/v1"}))
    assert isinstance(resolved.policy, OpenAIPolicy)
    assert ("endpoint", "http://127.0.0.1:9/v1") in resolved.lines


async def test_switching_from_the_palette_starts_a_new_session_with_the_new_model(make_app, settings):
    from tests.tui.fakes import ScriptPolicy
    from tui.app import Resolved
    from tui.screens.prompt import AskText

    seen = []

    def resolver(s):
        seen.append(s)
        return Resolved(ScriptPolicy([]), [("endpoint", str(s.endpoint))])

    app = make_app(ScriptPolicy([]), resolver=resolver)
    async with app.run_test(size=(110, 36)) as pilot:
        old = app.screen.session.session_id
        app.ask_switch("endpoint")
        await wait_for(pilot, lambda: isinstance(app.screen, AskText) and app.screen.query(Input))
        app.screen.query_one(Input).value = "http://127.0.0.1:8000/v1"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen) and app.screen.session.session_id != old)
        assert seen[-1].endpoint == "http://127.0.0.1:8000/v1"
        assert app.screen.query_one("#stats").model_lines == [("endpoint", "http://127.0.0.1:8000/v1")]
