"""The agent loop against a real SQLite database: replayed and scripted policies (no models needed)."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import select

from agent.conversation import ToolCall, is_tool_call_message
from agent.events import (
    AgentError,
    CallStarted,
    ConfirmationNeeded,
    Reply,
    TextDelta,
    ToolCallMade,
    ToolResult,
    TurnFinished,
)
from agent.loop import APOLOGY, DECLINED_REPLY, OUT_OF_STEPS, AgentSession
from agent.policies.base import Cancelled
from agent.policies.replay import ReplayPolicy, user_turns
from agent.sessionlog import SessionLog
from agent.trace_io import read_traces
from backend.db import session_scope
from backend.models import Reservation
from tests.support.agent_db import ScriptedPolicy, small_db


def call_text(name: str, **arguments: str) -> str:
    return ToolCall(name, arguments).to_text()


def say(text: str) -> str:
    return call_text("respond_to_user", message=text)


FIND = call_text("FindRestaurants", city="Fairfield", cuisine="Breakfast")
RESERVE_ARGS = {
    "restaurant_name": "Mimi's Cafe",
    "city": "Fairfield",
    "time": "11:30",
    "date": "2019-03-02",
    "party_size": "2",
}
RESERVE = call_text("ReserveRestaurant", **RESERVE_ARGS)

# A whole booking conversation in the benchmark format (results are filled in by the real tools).
BOOKING_CONVERSATION = [
    {"role": "user", "content": "I'd like breakfast in Fairfield"},
    ToolCall("FindRestaurants", {"city": "Fairfield", "cuisine": "Breakfast"}).to_message(),
    {"role": "user", "content": "[]"},
    ToolCall(
        "respond_to_user", {"message": "Mimi's Cafe in Fairfield is a moderately priced place."}
    ).to_message(),
    {"role": "user", "content": "Book it for two tomorrow at 11:30"},
    ToolCall(
        "respond_to_user",
        {"message": "Please confirm: Mimi's Cafe, Fairfield, 2019-03-02 at 11:30, 2 people."},
    ).to_message(),
    {"role": "user", "content": "Yes, that works."},
    ToolCall("ReserveRestaurant", RESERVE_ARGS).to_message(),
    {"role": "user", "content": "[]"},
    ToolCall("respond_to_user", {"message": "Your table is booked."}).to_message(),
]


@pytest.fixture
def engine(tmp_path):
    return small_db(tmp_path / "resto.db")


def reservations(engine, session_id=None):
    with session_scope(engine) as db:
        query = select(Reservation)
        if session_id is not None:
            query = query.where(Reservation.session_id == session_id)
        return [(r.restaurant.name, r.date, r.time, r.party_size) for r in db.scalars(query)]


def test_replayed_session_books_a_table_and_is_logged(engine, tmp_path):
    log = SessionLog(engine)
    events = []
    policy = ReplayPolicy(BOOKING_CONVERSATION)
    session = AgentSession(policy, engine, log=log, on_event=events.append)
    replies = [session.send(text).reply for text in user_turns(BOOKING_CONVERSATION)]

    assert replies[-1] == "Your table is booked."
    assert reservations(engine, session.session_id) == [("Mimi's Cafe", "2019-03-02", "11:30", 2)]
    # The search really ran: its result (the restaurant) is the next user message.
    found = json.loads(session.messages[2]["content"])
    assert [r["restaurant_name"] for r in found] == ["Mimi's Cafe"]
    # Same shape and calls as the recording.
    assert [m["role"] for m in session.messages] == [m["role"] for m in BOOKING_CONVERSATION]
    assert [ToolCall.from_message(m).name for m in session.messages if is_tool_call_message(m)] == [
        ToolCall.from_message(m).name for m in BOOKING_CONVERSATION if is_tool_call_message(m)
    ]
    record = log.get(session.session_id)
    assert record.messages == session.messages
    assert len(record.turns) == 3
    assert record.model == policy.description
    assert any(
        isinstance(e, ToolResult) and e.call.name == "ReserveRestaurant" and not e.error for e in events
    )
    assert sum(isinstance(e, TurnFinished) for e in events) == 3
    # …and exported, it is a valid benchmark trace of exactly this conversation.
    out = tmp_path / "session.jsonl"
    assert log.export([session.session_id], out).written == 1
    traces, _ = read_traces(out, strict=True)
    assert traces[0].messages == session.messages


def test_events_of_a_search_turn_in_order(engine):
    events = []
    policy = ScriptedPolicy([FIND, say("Mimi's Cafe it is.")])
    result = AgentSession(policy, engine, on_event=events.append).send("breakfast in Fairfield")
    kinds = [type(e) for e in events]
    assert kinds == [
        CallStarted,
        ToolCallMade,
        ToolResult,
        CallStarted,
        TextDelta,
        ToolCallMade,
        Reply,
        TurnFinished,
    ]
    assert result.events == events
    assert result.reply == "Mimi's Cafe it is."
    assert [c.name for c in result.calls] == ["FindRestaurants", "respond_to_user"]
    assert (result.prompt_tokens, result.completion_tokens, result.steps) == (20, 10, 2)
    assert result.error is None and not result.cancelled


def test_malformed_output_gets_one_repair_with_the_error_not_kept_in_history(engine):
    policy = ScriptedPolicy(["I think you should eat <b>pancakes</b>", FIND, say("Found one.")])
    session = AgentSession(policy, engine)
    result = session.send("breakfast in Fairfield")
    assert result.reply == "Found one." and result.error is None
    repair_view = policy.seen[1]
    assert repair_view[-1]["role"] == "user" and "not a valid tool call" in repair_view[-1]["content"]
    assert "pancakes" in repair_view[-1]["content"]  # the model sees what it wrote
    # The note was for that attempt only: neither the next call nor the history has it.
    assert all("not a valid tool call" not in str(m.get("content")) for m in policy.seen[2])
    assert all("not a valid tool call" not in str(m.get("content")) for m in session.messages)
    assert [m["role"] for m in session.messages] == ["user", "assistant", "user", "assistant"]
    assert any(isinstance(e, AgentError) and not e.fatal for e in result.events)


def test_invalid_enum_value_is_repaired(engine):
    bad = call_text(
        "ReserveRestaurant", restaurant_name="Mimi's Cafe", city="Fairfield", time="11:30", party_size="12"
    )
    policy = ScriptedPolicy([bad, say("How many people, at most 6?")])
    session = AgentSession(policy, engine, confirm_bookings=False)
    result = session.send("table for 12 at Mimi's Cafe in Fairfield at 11:30")
    assert "party_size" in policy.seen[1][-1]["content"] and "'12'" in policy.seen[1][-1]["content"]
    assert result.reply == "How many people, at most 6?"
    assert reservations(engine) == []


def test_apology_after_two_invalid_outputs(engine):
    unknown = call_text("OrderPizza", size="large")
    policy = ScriptedPolicy(["not json at all", unknown])
    session = AgentSession(policy, engine)
    result = session.send("hello")
    assert result.reply == APOLOGY
    assert "OrderPizza" in result.error
    fatal = [e for e in result.events if isinstance(e, AgentError) and e.fatal]
    assert len(fatal) == 1
    # The apology is kept as a respond_to_user call, so the history stays in the benchmark format.
    assert ToolCall.from_message(session.messages[-1]).message == APOLOGY
    assert len(session.messages) == 2


def test_policy_exception_becomes_an_apology(engine):
    session = AgentSession(ScriptedPolicy([RuntimeError("CUDA out of memory")]), engine)
    result = session.send("hello")
    assert result.reply == APOLOGY
    assert "CUDA out of memory" in result.error


def test_missing_required_field_is_repaired(engine):
    policy = ScriptedPolicy(
        [call_text("FindRestaurants", cuisine="Thai"), call_text("respond_to_user", message="Which city?")]
    )
    result = AgentSession(policy, engine).send("thai food")
    assert "missing required parameter 'city'" in policy.seen[1][-1]["content"]
    assert result.reply == "Which city?"


def test_max_steps_ends_with_an_apology(engine):
    policy = ScriptedPolicy([FIND] * 3)
    session = AgentSession(policy, engine, max_steps=3)
    result = session.send("breakfast in Fairfield")
    assert result.reply == OUT_OF_STEPS and result.steps == 3
    assert [c.name for c in result.calls] == ["FindRestaurants"] * 3
    assert "3 model calls" in result.error
    assert policy.outputs == []


def test_cancel_between_steps_keeps_history_consistent(engine):
    cancel = threading.Event()

    def cancel_after_result(event):
        if isinstance(event, ToolResult):
            cancel.set()

    policy = ScriptedPolicy([FIND, say("never reached")])
    session = AgentSession(policy, engine, on_event=cancel_after_result)
    result = session.send("breakfast in Fairfield", cancel=cancel)
    assert result.cancelled and result.reply == ""
    assert [m["role"] for m in session.messages] == ["user", "assistant", "user"]  # call + its result
    assert len(policy.outputs) == 1
    # The session goes on normally afterwards.
    assert session.send("go on").reply == "never reached"


def test_cancel_during_generation(engine, tmp_path):
    cancel = threading.Event()

    def generate_until_cancelled(messages, cancel_event):
        assert cancel_event is cancel
        if not cancel_event.wait(10):
            raise AssertionError("not cancelled")
        raise Cancelled()

    log = SessionLog(engine)
    session = AgentSession(ScriptedPolicy([generate_until_cancelled]), engine, log=log)
    box = {}
    worker = threading.Thread(target=lambda: box.update(result=session.send("hi", cancel=cancel)))
    worker.start()
    cancel.set()
    worker.join(10)
    assert box["result"].cancelled
    assert session.messages == [{"role": "user", "content": "hi"}]
    assert log.get(session.session_id).turns[0].stats["cancelled"] is True


def test_booking_waits_for_the_users_confirmation(engine):
    policy = ScriptedPolicy(
        [RESERVE, say("Shall I book Mimi's Cafe at 11:30 for 2 on 2019-03-02?"), RESERVE, say("Booked!")]
    )
    session = AgentSession(policy, engine)
    first = session.send("Book Mimi's Cafe in Fairfield for 2 at 11:30 on March 2nd")
    assert any(isinstance(e, ConfirmationNeeded) for e in first.events)
    assert "has not confirmed" in policy.seen[1][-1]["content"]
    assert reservations(engine) == []
    assert first.reply.startswith("Shall I book")
    assert all(
        not is_tool_call_message(m) or ToolCall.from_message(m).name != "ReserveRestaurant"
        for m in session.messages
    )  # the refused call is not in the history
    second = session.send("Yes please")
    assert second.reply == "Booked!"
    assert reservations(engine, session.session_id) == [("Mimi's Cafe", "2019-03-02", "11:30", 2)]


def test_insisting_model_gets_the_loops_own_confirmation_question(engine):
    policy = ScriptedPolicy([RESERVE, RESERVE])
    session = AgentSession(policy, engine)
    result = session.send("Book Mimi's Cafe in Fairfield for 2 at 11:30")
    assert (
        result.reply
        == "Just to confirm: shall I book a table at Mimi's Cafe in Fairfield on 2019-03-02 at 11:30 for 2?"
    )
    assert result.error is None and reservations(engine) == []


MADE_UP = call_text("ReserveRestaurant", **{**RESERVE_ARGS, "restaurant_name": "Mcdonald's"})


def test_a_booking_the_database_refuses_goes_back_to_the_model_before_anyone_confirms(engine):
    # not confirmed yet: without the dry run the loop would tell the model to confirm a table that does not exist
    policy = ScriptedPolicy([MADE_UP, say("Sorry, I could not find Mcdonald's. Mimi's Cafe?")])
    result = AgentSession(policy, engine).send("Book Mcdonald's in Fairfield for 2 at 11:30")
    assert not any(isinstance(e, ConfirmationNeeded) for e in result.events)
    (failed,) = [e for e in result.events if isinstance(e, ToolResult)]
    assert failed.error and "Mcdonald's" in failed.error
    assert "There is no restaurant named" in policy.seen[1][-1]["content"]  # the model saw the refusal
    assert result.reply.startswith("Sorry") and reservations(engine) == []
    # …and the person is never asked in the dialog either
    asked = []
    policy = ScriptedPolicy([MADE_UP, say("That place does not exist.")])
    AgentSession(policy, engine, confirm=lambda call: asked.append(call) or True).send("Yes, book it")
    assert asked == [] and reservations(engine) == []


def test_a_bookable_call_is_only_run_dry_before_the_confirmation(engine):
    policy = ScriptedPolicy([RESERVE, say("Shall I book it?")])
    result = AgentSession(policy, engine).send("Book Mimi's Cafe in Fairfield for 2 at 11:30")
    assert any(isinstance(e, ConfirmationNeeded) for e in result.events)
    assert not any(isinstance(e, ToolResult) for e in result.events) and reservations(engine) == []


def test_a_confirmed_booking_nobody_is_asked_about_runs_once_not_dry_first(engine, monkeypatch):
    import backend.tools

    runs = []
    real = backend.tools.execute
    monkeypatch.setattr(backend.tools, "execute", lambda *a, **k: runs.append(k.get("dry_run", False)) or real(*a, **k))
    policy = ScriptedPolicy([RESERVE, say("Booked.")])
    AgentSession(policy, engine).send("Yes, book Mimi's Cafe in Fairfield for 2 at 11:30")
    assert runs == [False] and len(reservations(engine)) == 1


def test_a_locked_database_during_the_dry_run_leaves_the_decision_to_the_real_call(tmp_path):
    import sqlite3

    from backend.db import make_engine

    path = tmp_path / "locked.db"
    small_db(path).dispose()
    engine = make_engine(path, busy_timeout_ms=200)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock while the booking is run dry

    def human(call):  # by the time the person answers, the other process is done
        other.execute("ROLLBACK")
        return True

    try:
        result = AgentSession(ScriptedPolicy([RESERVE, say("Booked.")]), engine, confirm=human).send("Yes, go ahead")
    finally:
        other.close()
    assert result.reply == "Booked." and len(reservations(engine)) == 1


def test_no_gating_for_benchmark_replay(engine):
    session = AgentSession(ScriptedPolicy([RESERVE, say("Done.")]), engine, confirm_bookings=False)
    assert session.send("Book Mimi's Cafe in Fairfield at 11:30").reply == "Done."
    assert len(reservations(engine)) == 1


def test_confirm_callback_can_decline(engine):
    asked = []

    def human(call):
        asked.append(call)
        return False

    policy = ScriptedPolicy([RESERVE, say("OK, what should I change?")])
    session = AgentSession(policy, engine, confirm=human)
    result = session.send("Yes, go ahead")
    assert [c.name for c in asked] == ["ReserveRestaurant"]
    assert "declined" in policy.seen[1][-1]["content"]
    assert result.reply == "OK, what should I change?" and reservations(engine) == []

    insisting = ScriptedPolicy([RESERVE, RESERVE])
    asked.clear()
    result = AgentSession(insisting, engine, confirm=human).send("Yes, go ahead")
    assert len(asked) == 1 and result.reply == DECLINED_REPLY and reservations(engine) == []

    session2 = AgentSession(ScriptedPolicy([RESERVE, say("Booked.")]), engine, confirm=lambda call: True)
    assert session2.send("Yes, go ahead").reply == "Booked."
    assert len(reservations(engine)) == 1


def test_tool_role_results(engine):
    session = AgentSession(ScriptedPolicy([FIND, say("ok")]), engine, tool_result_role="tool")
    session.send("breakfast in Fairfield")
    result_msg = session.messages[2]
    assert result_msg["role"] == "tool"
    assert result_msg["tool_call_id"] == session.messages[1]["tool_calls"][0]["id"]


def test_reset_starts_a_new_session(engine):
    log = SessionLog(engine)
    session = AgentSession(ReplayPolicy(BOOKING_CONVERSATION), engine, log=log)
    session.send("hi")
    first = session.session_id
    session.reset()
    assert session.messages == [] and session.session_id != first
    session.send("hi")
    assert {s.id for s in log.list_sessions()} == {first, session.session_id}


def test_a_failing_log_does_not_lose_the_reply(engine):
    class BrokenLog:
        def start(self, *args, **kwargs):
            raise OSError("disk full")

    result = AgentSession(ScriptedPolicy([say("hello")]), engine, log=BrokenLog()).send("hi")
    assert result.reply == "hello"
    assert "disk full" in result.error


def test_a_turn_whose_log_write_failed_is_written_with_the_next(engine):
    log = SessionLog(engine)
    real_log_turn = log.log_turn
    calls = []

    def flaky_log_turn(session_id, messages, stats):
        calls.append(len(messages))
        if len(calls) == 1:
            raise OSError("database is locked")
        return real_log_turn(session_id, messages, stats)

    log.log_turn = flaky_log_turn
    session = AgentSession(ScriptedPolicy([say("one"), say("two")]), engine, log=log)
    assert "locked" in session.send("first").error
    assert session.send("second").error is None
    assert calls == [2, 4]
    assert log.get(session.session_id).messages == session.messages


@pytest.mark.data
def test_benchmark_traces_replay_through_the_loop(benchmark_dir, engine):
    """Every call of the first S1 traces validates and replays in order (benchmark mode: no gating)."""
    traces, _ = read_traces(benchmark_dir / "scenario-1-baseline" / "tft" / "traces.jsonl")
    for trace in traces[:25]:
        session = AgentSession(ReplayPolicy.from_trace(trace), engine, confirm_bookings=False)
        for text in user_turns(trace.messages):
            result = session.send(text)
            assert result.error is None, (trace.meta, text, result.error)
        assert [
            (c.name, c.arguments)
            for c in map(ToolCall.from_message, filter(is_tool_call_message, session.messages))
        ] == [
            (c.name, c.arguments)
            for c in map(ToolCall.from_message, filter(is_tool_call_message, trace.messages))
        ]


def test_a_real_untrained_model_never_crashes_the_loop(engine, tiny_model_dir):
    """A random-init tiny Qwen3 writes garbage: the loop repairs, then apologises, and logs it all."""
    from agent.model_loading import load_model
    from agent.policies.hf import HFPolicy

    policy = HFPolicy(load_model(str(tiny_model_dir)), max_new_tokens=24)
    log = SessionLog(engine)
    session = AgentSession(policy, engine, log=log, max_steps=2)
    result = session.send("Find me Thai food in San Jose")
    assert result.reply  # an apology or, by chance, a valid reply: never an exception
    assert result.prompt_tokens > 0 and result.completion_tokens > 0
    steps = log.get(session.session_id).turns[0].stats["step_stats"]
    assert 1 <= len(steps) <= 2 and all(isinstance(step["raw_text"], str) for step in steps)
    errors = [e for e in result.events if isinstance(e, AgentError) and not e.fatal]
    assert [e.raw for e in errors] == [step["raw_text"] for step in steps][: len(errors)]  # raw output kept
    assert log.get(session.session_id).model.startswith("hf: ")
