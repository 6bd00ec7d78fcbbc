"""`resto chat --grounded` / `resto replay --grounded` (tui.app.decoding_for) and the model-declared
default (agent.resolve.declares_grounded: the demo model declares grounded): the resolver grounds on the
database the chat runs against, falls back to the conversation's own values without one, says so in
the side panel, and a grounded chat end to end (CLI → plain REPL → session log) only writes values the
conversation gave."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from agent.grounding import Gazetteer
from agent.resolve import DEMO_CARD, declares_grounded
from agent.sessionlog import SessionLog
from backend.db import make_engine
from tests.support.agent_db import small_db
from tests.support.stubborn import STUBBORN_CALL, stubborn_model_dir
from tui.app import decoding_for, default_resolver
from tui.widgets.panels import StatsPanel

pytestmark = pytest.mark.anyio


def test_grounded_resolver_takes_the_names_of_the_chat_database(settings, engine, tiny_model_dir):
    resolved = default_resolver(settings.model_copy(update={"model": str(tiny_model_dir), "grounded_decoding": True}))
    policy = resolved.policy
    assert policy.guide is not None and isinstance(policy.grounding, Gazetteer)
    assert policy.grounding.mentioned("restaurant_name", "is thai orchid open?") == ["Thai Orchid"]
    assert ("decoding", "grounded (conversation values, database names)") in resolved.lines


@pytest.mark.parametrize("db", ["missing.db", "not-a-database.db"])
def test_without_a_readable_database_grounding_keeps_the_conversation_values(tmp_path, settings, db):
    path = tmp_path / db
    if db.startswith("not"):
        path.write_text("this is not SQLite")
    grounding, line = decoding_for(settings.model_copy(update={"db": str(path), "grounded_decoding": True}))
    assert isinstance(grounding, Gazetteer) and grounding.mentioned("city", "san jose") == []
    assert grounding.candidates([{"role": "user", "content": "7 pm please"}]) == {"time": ["19:00"], "date": ["2019-03-01"]}
    assert "run `resto db build`" in line


def test_decoding_lines_for_each_setting(settings):
    assert decoding_for(settings) == (None, None)
    assert decoding_for(settings.model_copy(update={"guided_decoding": True})) == (None, "guided (tool schemas)")
    endpoint = settings.model_copy(update={"endpoint": "http://127.0.0.1:9/v1", "grounded_decoding": True})
    assert ("decoding", "the server's own (--guided/--grounded are for local models)") in default_resolver(endpoint).lines


async def test_the_chat_side_panel_shows_grounded_decoding(settings, engine, session_log, tiny_model_dir):
    from tests.tui.conftest import wait_for
    from tui.app import RestoApp
    from tui.screens.chat import ChatScreen

    grounded = settings.model_copy(update={"model": str(tiny_model_dir), "grounded_decoding": True})
    app = RestoApp(grounded, engine=engine, log=session_log)
    async with app.run_test(size=(110, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen) and app.screen.query("#prompt"), timeout=60)
        await pilot.pause()
        panel = app.screen.query_one(StatsPanel)
        assert ("decoding", "grounded (conversation values, database names)") in panel.model_lines


def _plain_chat(tmp_path, monkeypatch, model_dir, flag: str, text: str) -> list[dict]:
    """One user turn through `resto chat --plain [FLAG]` on tmp_path/resto.db; the session's messages."""
    from cli.main import main

    monkeypatch.setattr("sys.stdin", io.StringIO(text + "\n/quit\n"))
    argv = ["--home", str(tmp_path / "home"), "chat", "--plain", *([flag] if flag else []), "--model",
            str(model_dir), "--db", str(tmp_path / "resto.db")]
    assert main(argv) == 0
    log = SessionLog(make_engine(tmp_path / "resto.db"))
    latest = max(log.list_sessions(), key=lambda s: s.started_at)
    return log.get(latest.id).messages


def _calls(messages: list[dict]) -> list[tuple[int, dict]]:
    out = []
    for i, message in enumerate(messages):
        if message["role"] == "assistant":
            function = message["tool_calls"][0]["function"]
            out.append((i, {"name": function["name"], "arguments": function["arguments"]}))
    return out


def test_plain_chat_grounded_searches_the_city_the_user_named(tmp_path, monkeypatch, tiny_model_dir,
                                                              tmp_path_factory):
    """End to end through the CLI, on a model that searches San Francisco whatever the user says: guided,
    it still does (and finds nothing); grounded, every value it writes is one the conversation gave, so it
    searches San Jose and finds the restaurant there."""
    model_dir = stubborn_model_dir(tmp_path_factory, tiny_model_dir)
    gaz = Gazetteer.from_database(small_db(tmp_path / "resto.db"))
    text = "Thai food in San Jose at 7 pm"
    guided = _calls(_plain_chat(tmp_path, monkeypatch, model_dir, "--guided", text))
    assert guided[0][1] == {"name": "FindRestaurants", "arguments": STUBBORN_CALL.arguments}

    messages = _plain_chat(tmp_path, monkeypatch, model_dir, "--grounded", text)
    calls = _calls(messages)
    assert calls[0][1]["name"] == "FindRestaurants" and calls[0][1]["arguments"]["city"] == "San Jose"
    for i, call in calls:
        allowed = gaz.candidates(messages[:i])
        for key, value in call["arguments"].items():
            if key in allowed:
                assert value in allowed[key], (key, value, allowed[key])
    assert any("Thai Orchid" in m["content"] for m in messages if m["role"] == "user" and m["content"].startswith("["))


def _declaring(tmp_path_factory, model_dir: Path, card: str | None) -> Path:
    """A copy of `model_dir` whose demo.json is `card` (as `resto model demo` writes it)."""
    import shutil

    out = tmp_path_factory.mktemp("declared") / "model"
    shutil.copytree(model_dir, out)
    if card is not None:
        (out / DEMO_CARD).write_text(card)
    return out


def test_the_demo_model_declares_grounded_decoding_and_flags_override_it(tmp_path, monkeypatch, tiny_model_dir,
                                                                         tmp_path_factory):
    """A model directory built by `resto model demo` (demo.json: "decoding": "grounded") is decoded grounded
    by the chat without a flag; `--no-grounded` (or RESTO_GROUNDED_DECODING=false) and `--guided` still choose."""
    stubborn = stubborn_model_dir(tmp_path_factory, tiny_model_dir)
    model_dir = _declaring(tmp_path_factory, stubborn, json.dumps({"config": {}, "decoding": "grounded"}))
    small_db(tmp_path / "resto.db")
    text = "Thai food in San Jose at 7 pm"

    def first_city(flag: str) -> str | None:
        searches = [c for _, c in _calls(_plain_chat(tmp_path, monkeypatch, model_dir, flag, text))
                    if c["name"] == "FindRestaurants"]
        return searches[0]["arguments"].get("city") if searches else None  # free, it may write no valid call

    city = {flag: first_city(flag) for flag in ("", "--no-grounded", "--guided", "--grounded")}
    assert city[""] == city["--grounded"] == "San Jose" and city["--guided"] == "San Francisco"
    assert city["--no-grounded"] != "San Jose"
    monkeypatch.setenv("RESTO_GROUNDED_DECODING", "false")
    assert first_city("") == city["--no-grounded"]


@pytest.mark.parametrize("card", [None, "{not json", json.dumps({"decoding": "telepathic"}), json.dumps({"decoding": "guided"}), json.dumps([1])])
def test_a_model_that_declares_nothing_usable_decodes_free(settings, engine, tmp_path_factory, tiny_model_dir, card):
    model_dir = _declaring(tmp_path_factory, tiny_model_dir, card)
    assert declares_grounded(model_dir) is False
    resolved = default_resolver(settings.model_copy(update={"model": str(model_dir)}))
    assert resolved.policy.guide is None and resolved.policy.grounding is None
    assert not any(key == "decoding" for key, _ in resolved.lines)


def test_the_panel_says_when_grounded_decoding_is_the_models_default(settings, engine, tmp_path_factory,
                                                                     tiny_model_dir):
    model_dir = _declaring(tmp_path_factory, tiny_model_dir, json.dumps({"decoding": "grounded"}))
    assert declares_grounded(model_dir) is True and declares_grounded("Qwen/Qwen3-1.7B") is False
    resolved = default_resolver(settings.model_copy(update={"model": str(model_dir)}))
    assert isinstance(resolved.policy.grounding, Gazetteer)
    assert resolved.policy.description.endswith(" · grounded decoding")  # the REPL header and the session log
    assert ("decoding", "grounded (conversation values, database names) — the model's default; "
            "--no-grounded for free") in resolved.lines
    off = default_resolver(settings.model_copy(update={"model": str(model_dir), "grounded_decoding": False}))
    assert off.policy.grounding is None and not any(key == "decoding" for key, _ in off.lines)
    assert "decoding" not in off.policy.description
    guided = default_resolver(settings.model_copy(update={"model": str(model_dir), "guided_decoding": True}))
    assert guided.policy.grounding is None and guided.policy.description.endswith(" · guided decoding")


@pytest.mark.data
def test_replay_grounded_takes_the_city_from_the_recorded_results(data_dir, tmp_path, tmp_path_factory,
                                                                  tiny_model_dir, capsys):
    """`resto replay --grounded`: the same stubborn model, on a recorded dialogue set in Petaluma (a city
    the test database does not know, so the recorded tool results are what grounds it)."""
    from cli.main import main

    model_dir = stubborn_model_dir(tmp_path_factory, tiny_model_dir)
    small_db(tmp_path / "resto.db")
    cities = {}
    for flag in ("--guided", "--grounded"):
        argv = ["--data-dir", str(data_dir), "--home", str(tmp_path / "home"), "replay", "test-03", "--no-tui",
                flag, "--model", str(model_dir), "--db", str(tmp_path / "resto.db")]
        assert main(argv) == 0
        steps = [json.loads(line) for line in capsys.readouterr().out.splitlines()][:-1]
        cities[flag] = {s["prediction"]["arguments"].get("city") for s in steps if s["prediction"]}
    assert cities["--guided"] == {"San Francisco"}
    assert "Petaluma" in cities["--grounded"]
