"""Restaurants_2 dialogues in the Restaurants_1 schema: the slot and value mapping, the filter rule,
and on the real data the counts, schema-valid calls and that no S1 or held-out dialogue is among them."""

import json

from agent.tools.schema import validate_call
from train.restaurants_2 import as_restaurants_1, map_slots, mappable, restaurants_2_traces
from train.sgd_traces import Dialogue, dialogue_to_messages, s1_split


def r2_dialogue(parameters: dict) -> Dialogue:
    results = [{"address": "1 Main St", "category": "Thai", "location": "Dixon", "price_range": "pricey",
                "rating": "4.5", "restaurant_name": "Alpha"}]
    turns = [
        {"speaker": "USER", "utterance": "Pricey Thai in Dixon.", "frames": [{"service": "Restaurants_2", "actions": [], "slots": []}]},
        {"speaker": "SYSTEM", "utterance": "Alpha is rated 4.5.", "frames": [{
            "service": "Restaurants_2", "actions": [], "slots": [],
            "service_call": {"method": "FindRestaurants", "parameters": parameters}, "service_results": results}]},
    ]
    raw = {"dialogue_id": "1_00001", "services": ["Restaurants_2"], "turns": turns}
    return Dialogue("1_00001", ["Restaurants_2"], "dev", raw)


def test_slots_and_price_values_are_renamed_and_keys_sorted():
    assert map_slots({"location": "Dixon", "category": "Thai", "price_range": "cheap"}) == {
        "city": "Dixon", "cuisine": "Thai", "price_range": "inexpensive"}
    assert list(map_slots({"restaurant_name": "A", "number_of_seats": "2", "location": "X"})) == [
        "city", "party_size", "restaurant_name"]
    assert map_slots({"price_range": "ultra high-end"})["price_range"] == "very expensive"
    assert map_slots({"price_range": "moderate", "rating": "4"}) == {"price_range": "moderate", "rating": "4"}


def test_a_dialogue_maps_in_calls_and_results_and_the_original_is_untouched():
    dialogue = r2_dialogue({"category": "Thai", "location": "Dixon", "price_range": "pricey"})
    messages = dialogue_to_messages(as_restaurants_1(dialogue))
    call = messages[1]["tool_calls"][0]["function"]
    assert call == {"name": "FindRestaurants", "arguments": {"city": "Dixon", "cuisine": "Thai", "price_range": "expensive"}}
    (row,) = json.loads(messages[2]["content"])
    assert row == {"city": "Dixon", "cuisine": "Thai", "price_range": "expensive", "rating": "4.5",
                   "restaurant_name": "Alpha", "street_address": "1 Main St"}
    assert messages[3]["tool_calls"][0]["function"]["arguments"] == {"message": "Alpha is rated 4.5."}
    assert dialogue.raw["turns"][1]["frames"][0]["service_call"]["parameters"]["location"] == "Dixon"


def test_a_search_with_a_filter_restaurants_1_lacks_is_not_mappable():
    assert mappable(r2_dialogue({"category": "Thai", "location": "Dixon"}))
    assert not mappable(r2_dialogue({"category": "Thai", "location": "Dixon", "has_seating_outdoors": "True"}))
    assert not mappable(r2_dialogue({"category": "Thai", "location": "Dixon", "has_vegetarian_options": "True"}))


def test_on_sgd_129_schema_valid_conversations_outside_s1(data_dir):
    traces = restaurants_2_traces(data_dir / "sgd")
    assert len(traces) == 129  # 146 single-domain Restaurants_2 dialogues, 17 use an unmapped filter
    assert {t.meta["split"] for t in traces} == {"dev", "test"}
    train, held_out = s1_split(data_dir / "sgd")
    # SGD's dialogue ids restart in each split: a dialogue is (split, id)
    s1 = {(d.split, d.dialogue_id) for d in train + held_out}
    assert {d[0] for d in s1} == {"train"} and not {(t.meta["split"], t.meta["dialogue_id"]) for t in traces} & s1
    service_calls = 0
    for trace in traces:
        for message in trace.messages:
            for call in message.get("tool_calls") or []:
                function = call["function"]
                validate_call(function["name"], function["arguments"])  # raises on a Restaurants_2 slot or value
                service_calls += function["name"] != "respond_to_user"
    assert service_calls == 240
