"""SGD's Restaurants_2 dialogues as Restaurants_1 conversations: more single-domain data for the demo model.

    traces = restaurants_2_traces(sgd_dir)   # 129 conversations in the FindRestaurants/ReserveRestaurant schema

S1 trains on 327 single-domain Restaurants_1 dialogues (SGD's train split). SGD has 146 more
single-domain restaurant dialogues, in its dev and test splits, under the Restaurants_2 schema: the
same two intents with the same required slots (a search needs a place and a kind of food; a booking
needs a restaurant, a place and a time), so the same policy, under other slot names. The benchmark
itself uses them in S3 (under renamed tools, as schema drift). Here they are mapped onto the
Restaurants_1 schema that resto's tools use, for `resto model demo --restaurants-2`:

- slot names: location → city, category → cuisine, number_of_seats → party_size, address → street_address;
- price_range values: cheap → inexpensive, pricey → expensive, ultra high-end → very expensive, with
  the synonyms FindRestaurants accepts from the model (`backend.tools.find_restaurants.PRICE_SYNONYMS`);
- keys in alphabetical order, as SGD writes them;
- both in the service calls and in their results, then S1's conversion rule
  (`train.sgd_traces.dialogue_to_messages`) as is.

A dialogue whose search uses a filter Restaurants_1 lacks (has_seating_outdoors,
has_vegetarian_options) is dropped: there is no faithful call to put in its place, and the call
without the filter would teach the model to ignore what the user asked (17 of the 146). Result rows
keep their Restaurants_2-only fields (rating, outdoor seating…): the replies quote them, and a
result row with an extra field is still a faithful tool result. None of these dialogues is in SGD's
train split, so none is an S1 or held-out test dialogue (those are all train-split Restaurants_1).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agent.trace_io import Trace
from backend.tools.find_restaurants import PRICE_SYNONYMS
from train.sgd_traces import Dialogue, dialogue_to_messages, iter_dialogues, select_dialogues

SERVICE = "Restaurants_2"
SPLITS = ("dev", "test")
SLOT_NAMES = {"location": "city", "category": "cuisine", "number_of_seats": "party_size", "address": "street_address"}
UNMAPPED_FILTERS = ("has_seating_outdoors", "has_vegetarian_options")


def map_slots(values: dict[str, Any]) -> dict[str, Any]:
    """One call's parameters or one result row, in Restaurants_1 names and price values, keys sorted
    (SGD writes them in alphabetical order, so renamed keys move: location → city comes first)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key == "price_range":
            value = PRICE_SYNONYMS.get(value, value)  # the price words FindRestaurants itself accepts
        out[SLOT_NAMES.get(key, key)] = value
    return dict(sorted(out.items()))


def mappable(dialogue: Dialogue) -> bool:
    """False when a service call uses a filter that Restaurants_1 has no slot for."""
    for turn in dialogue.turns:
        for frame in turn.get("frames", []):
            call = frame.get("service_call")
            if call and any(key in call["parameters"] for key in UNMAPPED_FILTERS):
                return False
    return True


def as_restaurants_1(dialogue: Dialogue) -> Dialogue:
    """A copy of a Restaurants_2 dialogue whose calls and results use Restaurants_1's slots."""
    raw = copy.deepcopy(dialogue.raw)
    for turn in raw["turns"]:
        for frame in turn.get("frames", []):
            if frame.get("service") == SERVICE:
                frame["service"] = "Restaurants_1"
            call = frame.get("service_call")
            if call:
                call["parameters"] = map_slots(call["parameters"])
            if "service_results" in frame:
                frame["service_results"] = [map_slots(row) for row in frame["service_results"]]
    raw["services"] = ["Restaurants_1"]
    return Dialogue(dialogue.dialogue_id, ["Restaurants_1"], dialogue.split, raw)


def restaurants_2_traces(sgd_dir: str | Path, splits: Iterable[str] = SPLITS) -> list[Trace]:
    """The mappable single-domain Restaurants_2 dialogues of `splits`, as Restaurants_1 traces."""
    out: list[Trace] = []
    for split in splits:
        for dialogue in select_dialogues(iter_dialogues(sgd_dir, split), [SERVICE], single_domain=True):
            if mappable(dialogue):
                messages = dialogue_to_messages(as_restaurants_1(dialogue))
                out.append(Trace(messages, {"dialogue_id": dialogue.dialogue_id, "split": split, "source": SERVICE}))
    return out
