"""ReplayPolicy: the recorded calls, in order, keyed on the history it is shown."""

from __future__ import annotations

import threading

import pytest

from agent.conversation import ToolCall, is_tool_call_message
from agent.parse import parse_tool_call
from agent.policies.base import Cancelled
from agent.policies.replay import ReplayPolicy, user_turns
from agent.trace_io import Trace, read_traces

FIND = ToolCall("FindRestaurants", {"city": "San Jose", "cuisine": "Thai"})
SAY = ToolCall("respond_to_user", {"message": "Thai Orchid is nice and cheap."})
CONVERSATION = [
    {"role": "user", "content": "Thai in San Jose?"},
    FIND.to_message(),
    {"role": "user", "content": "[]"},
    SAY.to_message(),
    {"role": "user", "content": "thanks"},
    ToolCall("respond_to_user", {"message": "Bye!"}).to_message(),
]


def test_plays_calls_in_order_of_the_history():
    policy = ReplayPolicy(CONVERSATION)
    first = policy.next_call(CONVERSATION[:1])
    assert (first.call.name, first.call.arguments) == (FIND.name, FIND.arguments)
    assert first.call.id != FIND.id  # a fresh id, like a model's
    assert parse_tool_call(first.raw_text).arguments == FIND.arguments
    assert policy.next_call(CONVERSATION[:3]).call.message == SAY.message
    # Asked again with the same history (a refused or repaired call), it proposes the same call.
    assert policy.next_call(CONVERSATION[:3]).call.message == SAY.message
    assert policy.next_call(CONVERSATION[:5]).call.message == "Bye!"


def test_runs_out_with_an_error_not_an_exception():
    step = ReplayPolicy(CONVERSATION).next_call(CONVERSATION)
    assert step.call is None and "only 3 calls" in step.error


def test_streams_the_reply_text():
    deltas = []
    ReplayPolicy(CONVERSATION).next_call(CONVERSATION[:3], on_text=deltas.append)
    assert "".join(deltas) == SAY.message and len(deltas) == len(SAY.message.split())


def test_cancel():
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        ReplayPolicy(CONVERSATION).next_call(CONVERSATION[:3], cancel=cancel)


def test_user_turns_skip_tool_results():
    assert user_turns(CONVERSATION) == ["Thai in San Jose?", "thanks"]
    assert ReplayPolicy.from_trace(Trace(CONVERSATION)).user_turns() == ["Thai in San Jose?", "thanks"]


def test_tool_role_results_are_not_user_turns():
    messages = [
        CONVERSATION[0],
        FIND.to_message(),
        {"role": "tool", "tool_call_id": FIND.id, "content": "[]"},
        SAY.to_message(),
    ]
    assert user_turns(messages) == ["Thai in San Jose?"]


@pytest.mark.data
def test_benchmark_traces(benchmark_dir):
    traces, report = read_traces(benchmark_dir / "scenario-1-baseline" / "tft" / "traces.jsonl")
    for trace in traces:
        policy = ReplayPolicy.from_trace(trace)
        history = []
        for msg in trace.messages:
            if is_tool_call_message(msg):
                step = policy.next_call(history)
                assert step.call.name == ToolCall.from_message(msg).name
                assert step.call.arguments == ToolCall.from_message(msg).arguments
            history.append(msg)
        assert user_turns(trace.messages)
