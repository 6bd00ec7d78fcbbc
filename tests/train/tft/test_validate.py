"""Validate stage: deterministic checks, and execution of every service call against a real SQLite
restaurant database (tests.support.agent_db.small_db) through backend.tools.execute."""

from __future__ import annotations

import json

import pytest

from agent.tools import tool_schemas
from tests.train.tft.scripted_llms import GOLD, MIMI, SYNTH_SPECIAL, call, result, say, synthetic, u
from train.tft.stage_io import Item
from train.tft.synthesize import to_messages
from train.tft.validate import db_executor, execution_problems, jaccard, shingles, validate_items

SEEDS = [Item(f"t{n}", m) for n, m in enumerate(GOLD.values(), start=1)]


def _executor(db_url, tmp_path):
    return db_executor(db_url, tmp_path)


def _validate(candidates, execute=None, max_length=20000):
    return {i.id: i for i in validate_items(candidates, SEEDS, tool_schemas(), max_length, 0.85, execute)}


def test_checks_length_and_near_duplicates_without_db():
    good = [Item(f"s{k}", to_messages(synthetic(k))) for k in (0, 2, 6)]
    copy = Item("copy", to_messages(SYNTH_SPECIAL[5]))
    broken = Item("broken", [u("hi"), say("hello"), result(MIMI)])  # a result after respond_to_user
    out = _validate([*good, copy, broken, Item("again", good[0].messages)])
    assert [out[i.id].keep for i in good] == [True, True, True]
    assert out["copy"].reason.startswith("near-duplicate: of t1 (jaccard 1.00)")
    assert out["again"].reason.startswith("near-duplicate: of s0")
    assert out["broken"].reason.startswith("structure: a tool result follows respond_to_user")
    long = _validate([Item("long", good[0].messages)], max_length=100)["long"]
    assert long.reason.startswith("too-long:")


def test_shingles_separate_different_conversations():
    a, b = (shingles(to_messages(synthetic(k))) for k in (0, 2))
    assert jaccard(a, a) == 1.0 and jaccard(a, b) < 0.85


def test_service_calls_execute_against_the_database(tmp_path, db_url):
    execute = _executor(db_url, tmp_path)
    for messages in GOLD.values():
        assert execution_problems(messages, execute) == []
    ghost = to_messages(SYNTH_SPECIAL[4])  # shows a restaurant the DB does not return
    assert execution_problems(ghost, execute)[0].startswith("execution: FindRestaurants at 1 shows ['ghost diner']")
    empty = [u("Breakfast in Fairfield"), call("FindRestaurants", city="Fairfield", cuisine="Breakfast"),
             u("[]"), say("Nothing found.")]
    assert "shows no results; the DB has" in execution_problems(empty, execute)[0]
    out = _validate([Item("ghost", ghost), Item("ok", to_messages(synthetic(0)))], execute)
    assert not out["ghost"].keep and out["ok"].keep


def test_reservation_outcome_must_match(tmp_path, db_url):
    execute = _executor(db_url, tmp_path)
    booked = {**MIMI, "date": "2019-03-01", "party_size": "2", "time": "18:00"}
    conv = [u("Book Mimi's Cafe in Fairfield at 6 pm"),
            call("ReserveRestaurant", restaurant_name="Mimi's Cafe", city="Fairfield", time="18:00"),
            u(json.dumps([booked])), say("Booked!")]
    assert execution_problems(conv, execute) == []
    failed = [*conv[:2], u(json.dumps([{"error": "no table"}])), say("Sorry.")]
    assert "succeeds in the DB but an error is shown" in execution_problems(failed, execute)[0]
    # dry_run: nothing was written to the copy
    assert (tmp_path / "validate.db").exists()


@pytest.mark.data
def test_clean_benchmark_traces_execute_as_recorded(data_dir, benchmark_dir, tmp_path):
    """No false alarms: every service call of the 327 clean S1 traces, run against the database
    built from SGD, returns what the trace shows."""
    from agent.trace_io import read_traces
    from backend.sgd_builder import build_database

    url = f"sqlite:///{tmp_path / 'sgd.db'}"
    build_database(url, data_dir / "sgd")
    execute = _executor(url, tmp_path)
    traces, _ = read_traces(benchmark_dir / "scenario-1-baseline" / "tft" / "traces.jsonl")
    failing = [p for t in traces for p in execution_problems(t.messages, execute)]
    assert len(traces) == 327 and failing == []
