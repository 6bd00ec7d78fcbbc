import json

import pytest

from agent.conversation import ToolCall, user_message
from agent.trace_io import TraceFormatError, read_traces, record_to_trace, trace_to_record, write_traces


def _conversation():
    return [
        user_message("Find me sushi in San Jose"),
        ToolCall("FindRestaurants", {"city": "San Jose", "cuisine": "Sushi"}, id="call_1").to_message(),
        user_message(json.dumps([{"city": "San Jose", "restaurant_name": "Sushi Ya"}])),
        ToolCall("respond_to_user", {"message": "Sushi Ya is nice."}, id="call_2").to_message(),
    ]


@pytest.mark.parametrize("fmt", ["context", "messages"])
def test_round_trip_both_formats(tmp_path, fmt):
    path = tmp_path / "t.jsonl"
    assert write_traces(path, [_conversation()], fmt=fmt) == 1
    raw = json.loads(path.read_text())
    if fmt == "context":
        inner = json.loads(raw["context"])["messages"]
        assert isinstance(inner[1]["tool_calls"][0]["function"]["arguments"], str)
    else:
        assert isinstance(raw["messages"][1]["tool_calls"][0]["function"]["arguments"], dict)
    traces, report = read_traces(path)
    assert report.loaded == 1 and not report.skipped
    assert traces[0].messages == _conversation()


def test_bad_lines_are_reported_and_skipped(tmp_path):
    path = tmp_path / "t.jsonl"
    good = json.dumps(trace_to_record(_conversation(), "messages"))
    path.write_text(
        "\n".join(
            [
                good,
                "{not json",
                json.dumps({"messages": [{"role": "assistant"}]}),
                json.dumps({"context": "[1, 2"}),
                "",
                good,
            ]
        )
    )
    traces, report = read_traces(path)
    assert len(traces) == 2 and report.loaded == 2
    assert [n for n, _ in report.skipped] == [2, 3, 4]
    assert "no tool call" in report.skipped[1][1]
    assert "2 conversations, 3 bad lines skipped" in report.summary()
    with pytest.raises(TraceFormatError, match=r":2: "):
        read_traces(path, strict=True)


def test_question_answer_rows_read_as_conversation():
    conv = _conversation()
    row = {"question": json.dumps(conv[:-1]), "answer": ToolCall.from_message(conv[-1]).to_answer()}
    trace = record_to_trace(row)
    assert [m["role"] for m in trace.messages] == ["user", "assistant", "user", "assistant"]
    assert ToolCall.from_message(trace.messages[-1]).arguments == {"message": "Sushi Ya is nice."}


def test_reads_every_benchmark_trace_file(benchmark_dir):
    expected = {"scenario-1-baseline": 327, "scenario-2-noisy-labels": 327, "scenario-3-schema-drift": 292,
                "scenario-4-low-data": 5, "scenario-5-trace-mixing": 178}
    for scenario, count in expected.items():
        traces, report = read_traces(benchmark_dir / scenario / "tft" / "traces.jsonl", strict=True)
        assert report.loaded == count
        # the context variant re-encodes to the same JSON, message for message
        first = json.loads((benchmark_dir / scenario / "tft" / "traces.jsonl").open().readline())
        assert trace_to_record(traces[0].messages, "context")["context"] == first["context"]
