"""The session log on a real SQLite file: durability per turn, search, labels, relabels, export."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect

from agent.conversation import ToolCall
from agent.sessionlog import SessionLog, SessionLogError
from agent.trace_io import read_traces
from backend.db import create_schema, make_engine

TURN1 = [
    {"role": "user", "content": "Thai food in San Jose please"},
    ToolCall("FindRestaurants", {"city": "San Jose", "cuisine": "Thai"}).to_message(),
    {"role": "user", "content": json.dumps([{"restaurant_name": "Thai Orchid", "city": "San Jose"}])},
    ToolCall("respond_to_user", {"message": "Thai Orchid is a good option."}).to_message(),
]
TURN2 = [
    {"role": "user", "content": "Great, book it at 7pm"},
    ToolCall("respond_to_user", {"message": "For how many people?"}).to_message(),
]
STATS = {"latency_s": 1.25, "prompt_tokens": 800, "completion_tokens": 40, "steps": 2}


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "resto.db"


def test_tables_are_created_by_create_schema_and_by_the_log(db_path):
    import agent.sessionlog  # noqa: F401  (registers the tables on Base)

    engine = make_engine(db_path)
    create_schema(engine)
    assert {"chat_sessions", "chat_turns", "chat_messages"} <= set(inspect(engine).get_table_names())
    other = make_engine(db_path.with_name("bare.db"))
    SessionLog(other)
    assert set(inspect(other).get_table_names()) == {"chat_sessions", "chat_turns", "chat_messages"}


CRASHING_WRITER = """
import os, sys
from agent.sessionlog import ChatMessage, ChatTurn, SessionLog
from backend.db import make_engine, session_scope
log = SessionLog(make_engine(sys.argv[1]))
sid = log.start("tiny-model", "runs/adapter", None, {"ui": "test"})
log.log_turn(sid, TURN1, STATS)
print(sid, flush=True)
with session_scope(log.engine, write=True) as db:   # the next turn is being written...
    turn = ChatTurn(session_id=sid, index=1)
    db.add(turn)
    db.flush()
    db.add(ChatMessage(session_id=sid, turn_id=turn.id, position=4, role="user", content="half"))
    db.flush()
    os._exit(9)                                       # ...when the process dies
"""


def test_a_committed_turn_survives_a_crash(db_path):
    script = f"TURN1 = {TURN1!r}\nSTATS = {STATS!r}\n" + CRASHING_WRITER
    proc = subprocess.run(
        [sys.executable, "-c", script, str(db_path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    assert proc.returncode == 9, proc.stderr
    sid = proc.stdout.strip()

    reopened = SessionLog(make_engine(db_path))
    record = reopened.get(sid)
    assert record.messages == TURN1  # the committed turn is there, the one in flight is not
    assert (record.model, record.adapter, record.meta) == ("tiny-model", "runs/adapter", {"ui": "test"})
    assert len(record.turns) == 1
    turn = record.turns[0]
    assert (turn.latency_s, turn.prompt_tokens, turn.completion_tokens) == (1.25, 800, 40)
    assert turn.message_ids == record.message_ids
    # The database is not left locked: logging goes on.
    reopened.log_turn(sid, TURN2, STATS)
    assert reopened.get(sid).messages == TURN1 + TURN2
    assert [t.index for t in reopened.get(sid).turns] == [0, 1]


def test_a_malformed_turn_is_refused_whole(db_path):
    log = SessionLog(make_engine(db_path))
    sid = log.start("m", None, None, {})
    with pytest.raises(SessionLogError, match="malformed"):
        log.log_turn(sid, [TURN2[0], {"role": "assistant", "content": "no call"}], STATS)
    assert log.get(sid).messages == [] and log.get(sid).turns == []


def test_list_and_search(db_path):
    log = SessionLog(make_engine(db_path))
    a = log.start("model-a", None, None, {})
    log.log_turn(a, TURN1, STATS)
    b = log.start("model-b", None, "http://127.0.0.1:8000/v1", {})
    log.log_turn(b, [{"role": "user", "content": "pizza in Oakland"}], STATS)
    sessions = log.list_sessions()
    assert [s.id for s in sessions] == [b, a]  # newest first
    assert sessions[1].turns == 1 and sessions[1].messages == 4
    assert sessions[1].preview == "Thai food in San Jose please"
    assert [s.id for s in log.list_sessions(search="thai orchid")] == [a]  # case-insensitive, any message
    assert [s.id for s in log.list_sessions(search="FindRestaurants")] == [a]
    assert [s.id for s in log.list_sessions(search="model-b")] == [b]
    assert [s.id for s in log.list_sessions(search=b[:8])] == [b]
    assert log.list_sessions(search="sushi") == []
    assert len(log.list_sessions(limit=1)) == 1
    assert log.get(a[:10]).id == a  # a unique prefix works like the id


def test_labels_and_relabels_and_export_round_trip(db_path, tmp_path):
    log = SessionLog(make_engine(db_path))
    sid = log.start("m", None, None, {})
    log.log_turn(sid, TURN1 + TURN2, STATS)
    record = log.get(sid)
    find_id = record.message_ids[1]
    log.set_label(record.message_ids[3], "good")
    log.set_label(find_id, "bad")
    fixed = ToolCall("FindRestaurants", {"city": "San Jose", "cuisine": "Thai", "price_range": "inexpensive"})
    log.relabel(find_id, fixed)

    record = log.get(sid)
    assert record.labels == {record.message_ids[3]: "good", find_id: "bad"}
    assert record.relabels[find_id].arguments == fixed.arguments
    assert ToolCall.from_message(record.messages[1]).arguments == {
        "city": "San Jose",
        "cuisine": "Thai",
    }  # original kept

    out = tmp_path / "export.jsonl"
    assert log.export([sid], out, fmt="context").written == 1
    traces, report = read_traces(out, strict=True)
    assert report.loaded == 1
    assert traces[0].meta["session_id"] == sid
    exported = traces[0].messages
    assert ToolCall.from_message(exported[1]).arguments == fixed.arguments
    assert [m["role"] for m in exported] == [m["role"] for m in TURN1 + TURN2]
    assert json.loads(out.read_text())["context"].startswith('{"messages"')

    out2 = tmp_path / "export-messages.jsonl"
    assert log.export(None, out2, fmt="messages", use_relabels=False).written == 1
    original, _ = read_traces(out2, strict=True)
    assert ToolCall.from_message(original[0].messages[1]).arguments == {"city": "San Jose", "cuisine": "Thai"}
    assert isinstance(
        json.loads(out2.read_text())["messages"][1]["tool_calls"][0]["function"]["arguments"], dict
    )

    log.set_label(find_id, None)
    log.relabel(find_id, None)
    record = log.get(sid)
    assert record.labels == {record.message_ids[3]: "good"} and record.relabels == {}


def test_export_skips_sessions_without_assistant_calls(db_path, tmp_path):
    log = SessionLog(make_engine(db_path))
    empty = log.start("m", None, None, {})
    log.log_turn(empty, [{"role": "user", "content": "hi"}], {"cancelled": True})
    assert log.export([empty], tmp_path / "x.jsonl").written == 0


def test_clear_errors(db_path):
    log = SessionLog(make_engine(db_path))
    sid = log.start("m", None, None, {})
    log.log_turn(sid, TURN1, STATS)
    with pytest.raises(SessionLogError, match="not in the session log"):
        log.get("nope")
    with pytest.raises(SessionLogError, match="start"):
        log.log_turn("nope", TURN1, STATS)
    with pytest.raises(SessionLogError, match="good, bad"):
        log.set_label(log.get(sid).message_ids[0], "meh")
    with pytest.raises(SessionLogError, match="only calls"):
        log.relabel(log.get(sid).message_ids[0], ToolCall("respond_to_user", {"message": "x"}))
    with pytest.raises(SessionLogError, match="No message"):
        log.set_label(99999, "good")
    with pytest.raises(SessionLogError, match="format"):
        log.export([sid], db_path.with_name("x.jsonl"), fmt="csv")


def test_tool_role_messages_round_trip(db_path):
    log = SessionLog(make_engine(db_path))
    sid = log.start("m", None, None, {})
    call = ToolCall("FindRestaurants", {"city": "X", "cuisine": "Thai"})
    messages = [
        {"role": "user", "content": "x"},
        call.to_message(),
        {"role": "tool", "tool_call_id": call.id, "content": "[]"},
    ]
    log.log_turn(sid, messages, {})
    assert log.get(sid).messages == messages
