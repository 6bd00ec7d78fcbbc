"""`resto sessions list|show|export` through the real CLI entry point, on a real database file."""

from __future__ import annotations

import pytest

from agent.conversation import ToolCall
from agent.loop import AgentSession
from agent.sessionlog import SessionLog
from agent.trace_io import read_traces
from cli.main import main
from tests.support.agent_db import ScriptedPolicy, small_db

FIND = ToolCall("FindRestaurants", {"city": "San Jose", "cuisine": "Thai"}).to_text()


def say(text):
    return ToolCall("respond_to_user", {"message": text}).to_text()


@pytest.fixture
def logged(tmp_path):
    path = tmp_path / "resto.db"
    engine = small_db(path)
    log = SessionLog(engine)
    first = AgentSession(ScriptedPolicy([FIND, say("Thai Orchid it is.")]), engine, log=log)
    first.send("Thai in San Jose")
    second = AgentSession(ScriptedPolicy([say("Hello!")]), engine, log=log, metadata={"model": "tiny-demo"})
    second.send("hi there")
    return path, first.session_id, second.session_id


def test_list_and_search(logged, capsys):
    path, first, second = logged
    assert main(["sessions", "list", "--db", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["id", "started", "(UTC)"]
    assert lines[1].startswith(second[:12]) and "tiny-demo" in lines[1] and lines[1].endswith("hi there")
    assert lines[2].startswith(first[:12]) and "Thai in San Jose" in lines[2]
    assert main(["sessions", "list", "--db", str(path), "--search", "orchid"]) == 0
    out = capsys.readouterr().out
    assert first[:12] in out and second[:12] not in out
    main(["sessions", "list", "--db", str(path), "--search", "sushi"])
    assert "no sessions matching 'sushi'" in capsys.readouterr().out


def test_show(logged, capsys):
    path, first, _ = logged
    assert main(["sessions", "show", first[:8], "--db", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"session {first}" in out and "model scripted test policy" in out
    assert "── turn 1 ·" in out and "2 model calls" in out and "20 prompt / 10 completion tokens" in out
    assert 'assistant → FindRestaurants({"city": "San Jose", "cuisine": "Thai"})' in out
    assert "Thai Orchid" in out  # the real search result
    assert "assistant → respond_to_user: Thai Orchid it is." in out


def test_show_unknown_is_a_clear_error(logged, capsys):
    path, *_ = logged
    assert main(["sessions", "show", "zzz", "--db", str(path)]) == 2
    assert "not in the session log" in capsys.readouterr().err


def test_export(logged, tmp_path, capsys):
    path, first, second = logged
    out = tmp_path / "out" / "traces.jsonl"
    assert main(["sessions", "export", "--all", "--out", str(out), "--db", str(path)]) == 0
    assert "wrote 2 conversations" in capsys.readouterr().out
    traces, report = read_traces(out, strict=True)
    assert {t.meta["session_id"] for t in traces} == {first, second}
    assert (
        main(["sessions", "export", first[:10], "--out", str(out), "--format", "messages", "--db", str(path)])
        == 0
    )
    traces, _ = read_traces(out, strict=True)
    assert (
        len(traces) == 1 and traces[0].messages[1]["tool_calls"][0]["function"]["name"] == "FindRestaurants"
    )
    assert main(["sessions", "export", "--out", str(out), "--db", str(path)]) == 2
    assert "--all" in capsys.readouterr().err
