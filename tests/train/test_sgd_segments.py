"""Restaurant segments of multi-domain SGD dialogues: boundaries, the grounding rule, and on the real
data the counts and that no S1 or held-out dialogue is among them."""

from agent.conversation import ToolCall, user_message
from train.sgd_segments import grounded, restaurant_segments_traces, segments
from train.sgd_traces import Dialogue, iter_dialogues, s1_split, s1_traces, select_dialogues


def turn(speaker: str, services: list[str], text: str, call: dict | None = None) -> dict:
    frames = [{"service": s, "actions": [], "slots": []} for s in services]
    if call:
        frames[0].update(service_call=call, service_results=[{"restaurant_name": "Alpha", "city": "Dixon"}])
    return {"speaker": speaker, "utterance": text, "frames": frames}


W, R = "Weather_1", "Restaurants_1"
TURNS = [
    turn("USER", [W], "Weather in Dixon?"),
    turn("SYSTEM", [W], "Sunny.", {"method": "GetWeather", "parameters": {"city": "Dixon"}}),
    turn("USER", [W, R], "Now a restaurant in Dixon please."),  # the switch carries both frames
    turn("SYSTEM", [R], "What food?"),
    turn("USER", [R], "Pizza."),
    turn("SYSTEM", [R], "Alpha is nice.", {"method": "FindRestaurants", "parameters": {"city": "Dixon", "cuisine": "Pizza"}}),
    turn("USER", [R], "Thanks."),
    turn("SYSTEM", [R], "Anything else?"),
    turn("USER", [W], "And tomorrow's weather?"),
    turn("SYSTEM", [W], "Rain."),
]


def test_a_segment_runs_from_the_switch_to_the_last_restaurant_system_turn():
    dialogue = Dialogue("9_00001", [W, R], "train", {"dialogue_id": "9_00001", "services": [W, R], "turns": TURNS})
    (part,) = segments(dialogue)
    assert [t["utterance"] for t in part.turns] == [
        "Now a restaurant in Dixon please.", "What food?", "Pizza.", "Alpha is nice.", "Thanks.", "Anything else?"]
    assert part.dialogue_id == "9_00001#2" and part.services == [R]
    too_short = {**dialogue.raw, "turns": TURNS[:4]}
    assert segments(Dialogue("x", [W, R], "train", too_short)) == []


def test_grounding_asks_that_the_searched_city_was_said_first():
    said = [user_message("Thai in dixon"), ToolCall("FindRestaurants", {"city": "Dixon", "cuisine": "Thai"}).to_message()]
    assert grounded(said)
    unsaid = [user_message("find a restaurant there"), ToolCall("FindRestaurants", {"city": "Dixon"}).to_message()]
    assert not grounded(unsaid)
    assert grounded([user_message("hi"), ToolCall("respond_to_user", {"message": "In Dixon?"}).to_message()])


def test_on_sgd_the_segments_are_grounded_restaurant_conversations_outside_s1(data_dir):
    multi = [d for d in select_dialogues(iter_dialogues(data_dir / "sgd"), ["Restaurants_1"]) if len(d.services) > 1]
    assert len(multi) == 1205 and sum(len(segments(d)) for d in multi) == 1283
    traces = restaurant_segments_traces(data_dir / "sgd")
    assert len(traces) == 515
    train, held_out = s1_split(data_dir / "sgd")
    s1_ids = {d.dialogue_id for d in train + held_out}
    assert not {t.meta["dialogue_id"].split("#")[0] for t in traces} & s1_ids
    names = set()
    for trace in traces:
        assert trace.messages[0]["role"] == "user" and trace.messages[-1]["role"] == "assistant"
        assert grounded(trace.messages)
        names |= {c["function"]["name"] for m in trace.messages for c in m.get("tool_calls") or []}
    assert names == {"respond_to_user", "FindRestaurants", "ReserveRestaurant"}


def test_the_city_rule_keeps_most_of_s1_itself(data_dir):
    s1 = s1_traces(data_dir / "sgd")
    assert round(sum(grounded(t.messages) for t in s1) / len(s1), 2) == 0.81
