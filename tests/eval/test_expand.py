import json
from collections import Counter

import pytest

from eval.expand import expand_conversation, expand_file, write_rows

pytestmark = pytest.mark.data


def test_benchmark_test_set_expands_to_359_rows(benchmark_dir):
    path = benchmark_dir / "scenario-1-baseline" / "tft" / "test.jsonl"
    result = expand_file(path)
    assert len(result.rows) == 359
    assert result.by_function == Counter(
        {"respond_to_user": 287, "ReserveRestaurant": 44, "FindRestaurants": 28}
    )
    # the last row of each conversation is byte-identical to the benchmark's own row
    originals = [json.loads(line) for line in path.read_text().splitlines()]
    last = {}
    for row in result.rows:
        last[row.conversation] = row
    for i, original in enumerate(originals):
        assert last[i].question == original["question"]
        assert last[i].answer == original["answer"]


def test_prefixes_grow_and_end_before_the_call(benchmark_dir, tmp_path):
    result = expand_file(benchmark_dir / "scenario-1-baseline" / "tft" / "test.jsonl")
    first = [r for r in result.rows if r.conversation == 0]
    lengths = [len(json.loads(r.question)) for r in first]
    assert lengths == sorted(lengths) and lengths[0] == 1
    assert all(json.loads(r.question)[-1]["role"] == "user" for r in first)
    out = tmp_path / "rows.jsonl"
    assert write_rows(out, result.rows) == 359
    assert json.loads(out.read_text().splitlines()[0])["question"] == first[0].question


def test_expand_conversation_handwritten():
    messages = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "respond_to_user", "arguments": {"message": "Hello"}},
                }
            ],
        },
        {"role": "user", "content": "Find Thai in Napa"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "FindRestaurants", "arguments": {"city": "Napa", "cuisine": "Thai"}},
                }
            ],
        },
    ]
    rows = list(expand_conversation(messages))
    assert [r.function for r in rows] == ["respond_to_user", "FindRestaurants"]
    assert rows[1].question == json.dumps(messages[:3])
    assert rows[1].answer == '{"name": "FindRestaurants", "parameters": {"city": "Napa", "cuisine": "Thai"}}'


def test_bad_lines_are_skipped_and_reported(tmp_path):
    path = tmp_path / "t.jsonl"
    good = {
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "x",
                        "type": "function",
                        "function": {"name": "respond_to_user", "arguments": {"message": "yo"}},
                    }
                ],
            },
        ]
    }
    path.write_text("{broken\n" + json.dumps(good) + "\n")
    result = expand_file(path)
    assert len(result.rows) == 1
    assert result.report.skipped and result.report.skipped[0][0] == 1
