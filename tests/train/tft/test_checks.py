"""Deterministic conversation checks (structure, schema, grounding) on hand-written cases."""

from __future__ import annotations

import pytest

from agent.tools import tool_schemas
from agent.trace_io import read_traces
from tests.train.tft.scripted_llms import GOLD, MIMI, call, corrupted, result, say, u
from train.tft.checks import conversation_problems, grounding_problems, structure_problems

TOOLS = tool_schemas()


def test_gold_conversations_pass():
    for messages in GOLD.values():
        assert conversation_problems(messages, TOOLS) == []


def test_corruptions_are_caught():
    noisy, other_dialogue, _, _ = corrupted()
    assert "is not followed by" not in " ".join(structure_problems(noisy))
    assert structure_problems(noisy) == ["structure: a tool result follows respond_to_user at 1"]
    assert grounding_problems(other_dialogue, TOOLS)[0].startswith("ungrounded: FindRestaurants.city='Berkeley'")


def test_structure_rules():
    assert structure_problems([say("hi")])[0].startswith("structure: does not start with a user")
    assert "not followed by its result" in structure_problems([u("x"), call("FindRestaurants", city="a")])[0]
    two = {"role": "assistant", "tool_calls": call("FindRestaurants")["tool_calls"] * 2}
    assert "has 2 calls" in structure_problems([u("x"), two, result(MIMI)])[0]


def test_schema_and_enums():
    bad = [u("cheap food in Fairfield"), call("FindRestaurants", city="Fairfield", cuisine="Breakfast",
                                              price_range="cheap"), result(MIMI), say("ok")]
    assert "must be one of" in conversation_problems(bad, TOOLS)[0]
    unknown = [u("x"), call("BookHotel", city="x"), result(MIMI)]
    assert "Unknown function 'BookHotel'" in conversation_problems(unknown, TOOLS)[0]


def test_grounding_accepts_values_from_results_and_paraphrase():
    booking = [u("Breakfast in Fairfield"), call("FindRestaurants", city="Fairfield", cuisine="Breakfast"),
               result(MIMI), say("Mimi's Cafe?"), u("Yes book it at 6 pm"),
               call("ReserveRestaurant", restaurant_name="Mimi's Cafe", city="Fairfield", time="18:00")]
    assert grounding_problems(booking, TOOLS) == []  # name from the results, time normalised


@pytest.mark.data
def test_benchmark_clean_traces_pass_and_noisy_ones_are_caught(benchmark_dir):
    """No false alarms on the 327 clean S1 traces; most S2 traces (~90% corrupted) are flagged."""
    def passing(scenario):
        traces, _ = read_traces(benchmark_dir / scenario / "tft" / "traces.jsonl")
        return sum(not conversation_problems(t.messages, TOOLS) for t in traces), len(traces)

    assert passing("scenario-1-baseline") == (327, 327)
    ok, total = passing("scenario-2-noisy-labels")
    assert total == 327 and ok < 0.2 * total
