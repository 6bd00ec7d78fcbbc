"""Entity-swap augmentation keeps every decision and changes the entities consistently."""

import json
import random

import pytest

from agent.conversation import ToolCall, user_message
from agent.trace_io import Trace
from train.augment import augment, swap_entities, trace_entities, unstated_values, value_pools


def booking(city: str, cuisine: str, name: str, say_city: str | None = None) -> Trace:
    results = [{"restaurant_name": name, "city": city, "cuisine": cuisine, "street_address": f"1 Main St, {city}"}]
    return Trace([
        user_message(f"I want {cuisine.lower()} food in {say_city or city}, near {city}'s center"),
        ToolCall("FindRestaurants", {"city": city, "cuisine": cuisine}).to_message(),
        user_message(json.dumps(results)),
        ToolCall("respond_to_user", {"message": f"How about {name} in {city}?"}).to_message(),
        user_message("Yes, book it for 7 pm"),
        ToolCall("ReserveRestaurant", {"restaurant_name": name, "city": city, "time": "19:00"}).to_message(),
    ])


TRACES = [
    booking("San Jose", "Italian", "Tony's Place"),
    booking("Oakland", "Mexican", "La Casa"),
    booking("Berkeley", "Thai", "Thai Basil"),
    booking("South San Francisco", "Chinese", "Golden Dragon"),
]


def calls(trace):
    return [m["tool_calls"][0]["function"] for m in trace.messages if m.get("tool_calls")]


def test_entities_come_from_call_arguments_and_tool_results():
    found = trace_entities(TRACES[0])
    assert found == {"city": {"San Jose"}, "cuisine": {"Italian"}, "restaurant_name": {"Tony's Place"}}
    pools = value_pools(TRACES)
    assert pools["city"] == ["Berkeley", "Oakland", "San Jose", "South San Francisco"]


def test_a_swapped_copy_keeps_decisions_and_replaces_values_everywhere():
    original = TRACES[0]
    copy = swap_entities(original, value_pools(TRACES), random.Random(1))
    before, after = calls(original), calls(copy)
    assert [c["name"] for c in after] == [c["name"] for c in before]
    assert [sorted(c["arguments"]) for c in after] == [sorted(c["arguments"]) for c in before]
    new_city, new_cuisine = after[0]["arguments"]["city"], after[0]["arguments"]["cuisine"]
    new_name = after[2]["arguments"]["restaurant_name"]
    assert (new_city, new_cuisine, new_name) != ("San Jose", "Italian", "Tony's Place")
    assert new_city != "San Jose" and new_cuisine != "Italian" and new_name != "Tony's Place"
    text = json.dumps(copy.messages)
    assert "San Jose" not in text and "Tony" not in text and "italian" not in text.lower()
    # the same new value everywhere, in the case of the original
    assert copy.messages[0]["content"] == f"I want {new_cuisine.lower()} food in {new_city}, near {new_city}'s center"
    rows = json.loads(copy.messages[2]["content"])
    assert rows[0]["restaurant_name"] == new_name and rows[0]["street_address"] == f"1 Main St, {new_city}"
    assert after[1]["arguments"]["message"] == f"How about {new_name} in {new_city}?"
    assert after[2]["arguments"]["time"] == "19:00"  # other values untouched
    # call ids are kept; the original is not modified
    assert [m.get("tool_calls") and m["tool_calls"][0]["id"] for m in copy.messages] == [
        m.get("tool_calls") and m["tool_calls"][0]["id"] for m in original.messages
    ]
    assert calls(original)[0]["arguments"]["city"] == "San Jose"


def test_whole_words_only_and_longest_value_first():
    trace = booking("San Francisco", "American", "Sanford's", say_city="South San Francisco")
    trace.messages[0]["content"] += " (not Americana, not San Franciscos)"
    copy = swap_entities(trace, {"city": ["Napa"], "cuisine": ["Thai"], "restaurant_name": ["Lark"]}, random.Random(0))
    assert copy.messages[0]["content"] == "I want thai food in South Napa, near Napa's center (not Americana, not San Franciscos)"


def test_unsafe_values_are_left_alone():
    trace = booking("Café City", "Italian", 'The "Best" Grill')
    found = trace_entities(trace)
    assert found["city"] == set() and found["restaurant_name"] == set() and found["cuisine"] == {"Italian"}


@pytest.mark.parametrize("copies", [0, 2])
def test_augment_adds_copies_after_the_originals_deterministically(copies):
    out = augment(TRACES, copies, seed=3)
    assert len(out) == len(TRACES) * (copies + 1)
    assert out[: len(TRACES)] == TRACES
    assert out == augment(TRACES, copies, seed=3)
    if copies:
        assert all(t.meta.get("augmented") == "entity-swap" for t in out[len(TRACES):])
        assert out[len(TRACES):] != augment(TRACES, copies, seed=4)[len(TRACES):]


def test_values_a_call_infers_are_not_swapped():
    """The user says "SF", the call says "San Francisco": swapping it would leave nothing to copy from."""
    trace = booking("San Francisco", "Italian", "Tony's Place", say_city="SF")
    trace.messages[0]["content"] = "I want italian food in SF"
    assert unstated_values(trace) == {"san francisco"}
    copy = swap_entities(trace, value_pools(TRACES), random.Random(0))
    after = calls(copy)
    assert after[0]["arguments"]["city"] == "San Francisco" and after[2]["arguments"]["city"] == "San Francisco"
    assert after[0]["arguments"]["cuisine"] != "Italian"  # stated values are still swapped
    assert after[2]["arguments"]["restaurant_name"] != "Tony's Place"
    # every swapped value of the copy is stated before the call that uses it, as in the original
    assert unstated_values(copy) == {"san francisco"}


def test_a_value_stated_only_by_an_earlier_call_counts_as_stated():
    trace = booking("Oakland", "Thai", "Thai Basil")
    trace.messages[0]["content"] = "Somewhere to eat please"  # the first call's city and cuisine come from nowhere
    assert unstated_values(trace) == {"oakland", "thai"}
    assert "thai basil" not in unstated_values(trace)  # the tool result states it before the booking
