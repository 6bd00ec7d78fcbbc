"""S3 — schema drift: Restaurants_2 traces under other tool names, and renamed Restaurants_1 traces.

Rules inferred from the published file (292 traces):
- 146 traces from the single-domain Restaurants_2 dialogues (all of SGD's dev + test ones), with
  FindRestaurants → SearchDining, ReserveRestaurant → BookDining, respond_to_user →
  send_user_message and Restaurants_2's own parameter names (location, category, number_of_seats…).
- 146 S1 traces, ~10% clean (14 of 146); each other trace renames every function consistently
  with one of 6 alternatives per function and every parameter with one of 4 per parameter
  (the tables below; `has_live_music` shows only one alternative in the published file, the other
  three are ours). Tool results are left as they are.
- The two halves are shuffled together.
"""

from __future__ import annotations

import random

from agent.trace_io import Trace
from train.scenarios.common import Pools, copy_trace, rename_calls
from train.sgd_traces import dialogue_to_trace

R2_NAMES = {"FindRestaurants": "SearchDining", "ReserveRestaurant": "BookDining", "respond_to_user": "send_user_message"}
FUNCTION_ALTERNATIVES = {
    "respond_to_user": ["send_message", "send_reply", "assistant_reply", "user_response", "reply_to_user", "chat_response"],
    "FindRestaurants": [
        "get_restaurants", "find_places_to_eat", "query_restaurants", "lookup_restaurants", "search_restaurants",
        "search_venues",
    ],
    "ReserveRestaurant": [
        "create_booking", "schedule_reservation", "reserve_table", "book_restaurant", "make_reservation", "book_table",
    ],
}
PARAMETER_ALTERNATIVES = {
    "message": ["text", "content", "response_text", "reply"],
    "city": ["place", "town", "area", "location"],
    "cuisine": ["cuisine_type", "category", "food_type", "food_category"],
    "date": ["day", "reservation_date", "when", "booking_date"],
    "party_size": ["number_of_people", "group_size", "num_guests", "guests"],
    "restaurant_name": ["name", "place_name", "venue_name", "establishment"],
    "time": ["hour", "time_slot", "booking_time", "reservation_time"],
    "price_range": ["pricing", "budget", "cost_range", "price_level"],
    "serves_alcohol": ["alcohol", "serves_drinks", "has_bar", "has_alcohol"],
    "has_live_music": ["live_music", "has_music", "music", "features_live_music"],
}
CLEAN_FRACTION = 0.10
HALF = 146


def build_s3(pools: Pools, seed: int, n: int | None = None) -> list[Trace]:
    rng = random.Random(seed)
    half = (n // 2) if n else HALF
    r2 = pools.single_domain("Restaurants_2", ("dev", "test"))
    r2 = r2 if half >= len(r2) else rng.sample(r2, half)
    out = [copy_trace(rename_calls(dialogue_to_trace(d), R2_NAMES), scenario="s3", source="Restaurants_2") for d in r2]
    r1 = rng.sample(pools.s1_train, min(half, len(pools.s1_train)))
    clean = set(rng.sample(range(len(r1)), round(CLEAN_FRACTION * len(r1))))
    for k, dialogue in enumerate(r1):
        trace = dialogue_to_trace(dialogue)
        if k in clean:
            out.append(copy_trace(trace, scenario="s3", source="Restaurants_1", clean=True))
            continue
        functions = {name: rng.choice(alts) for name, alts in FUNCTION_ALTERNATIVES.items()}
        params = {name: rng.choice(alts) for name, alts in PARAMETER_ALTERNATIVES.items()}
        out.append(copy_trace(rename_calls(trace, functions, params), scenario="s3", source="Restaurants_1", clean=False))
    rng.shuffle(out)
    return out
