import json

from agent.conversation import tool_calls
from agent.trace_io import read_traces
from train.sgd_traces import dialogue_to_messages, s1_split, s1_traces


def _without_ids(messages):
    out = []
    for m in messages:
        m = dict(m)
        if m.get("tool_calls"):
            m["tool_calls"] = [{**c, "id": None} for c in m["tool_calls"]]
        out.append(m)
    return out


def test_conversion_rule_on_a_dialogue():
    dialogue = {
        "turns": [
            {"speaker": "USER", "utterance": "Italian in San Jose", "frames": []},
            {
                "speaker": "SYSTEM",
                "utterance": "Try Tony's.",
                "frames": [{
                    "service": "Restaurants_1",
                    "service_call": {"method": "FindRestaurants", "parameters": {"city": "San Jose", "cuisine": "Italian"}},
                    "service_results": [{"restaurant_name": "Tony's"}, {"restaurant_name": "Luigi's"}],
                }],
            },
            {"speaker": "USER", "utterance": "Thanks", "frames": []},
            {"speaker": "SYSTEM", "utterance": "Bye", "frames": [{"service": "Restaurants_1"}]},
        ]
    }
    msgs = dialogue_to_messages(dialogue)
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant", "user", "assistant"]
    calls = tool_calls(msgs)
    assert (calls[0].name, calls[0].arguments) == ("FindRestaurants", {"city": "San Jose", "cuisine": "Italian"})
    # ALL results go back, as json.dumps of the list
    assert json.loads(msgs[2]["content"]) == [{"restaurant_name": "Tony's"}, {"restaurant_name": "Luigi's"}]
    assert calls[1].arguments == {"message": "Try Tony's."}
    assert calls[2].arguments == {"message": "Bye"}


def test_reproduces_all_published_s1_traces(data_dir, benchmark_dir):
    ours = s1_traces(data_dir / "sgd")
    published, report = read_traces(benchmark_dir / "scenario-1-baseline" / "tft" / "traces.jsonl")
    assert report.loaded == 327 and not report.skipped
    assert len(ours) == 327
    for i, (a, b) in enumerate(zip(ours, published, strict=True)):
        assert _without_ids(a.messages) == _without_ids(b.messages), f"trace {i} ({a.meta['dialogue_id']}) differs"


def test_s1_held_out_dialogues_contain_the_test_conversations(data_dir, benchmark_dir):
    _, held_out = s1_split(data_dir / "sgd")
    assert len(held_out) == 40
    firsts = {d.turns[0]["utterance"] for d in held_out}
    tests, _ = read_traces(benchmark_dir / "scenario-1-baseline" / "tft" / "test.jsonl")
    assert len(tests) == 34
    assert all(t.messages[0]["content"] in firsts for t in tests)
