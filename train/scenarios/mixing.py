"""S5 — trace mixing: hotel traces dressed up as restaurant traces, with their messages shuffled.

Rules inferred from the published file (178 traces):
- 142 traces from the single-domain Hotels_1 dialogues (all of SGD's train + dev ones), with
  SearchHotel → FindRestaurants and ReserveHotel → ReserveRestaurant (hotel parameter names kept),
  and the order of every message shuffled.
- 36 clean S1 traces.
- The two parts are shuffled together (80% of the file is hotel traces).
"""

from __future__ import annotations

import random

from agent.trace_io import Trace
from train.scenarios.common import Pools, copy_trace, rename_calls
from train.sgd_traces import dialogue_to_trace

HOTEL_NAMES = {"SearchHotel": "FindRestaurants", "ReserveHotel": "ReserveRestaurant"}
HOTELS = 142
RESTAURANTS = 36


def build_s5(pools: Pools, seed: int, n: int | None = None) -> list[Trace]:
    rng = random.Random(seed)
    hotels_n = round(n * HOTELS / (HOTELS + RESTAURANTS)) if n else HOTELS
    hotels = pools.single_domain("Hotels_1", ("train", "dev"))
    hotels = hotels if hotels_n >= len(hotels) else rng.sample(hotels, hotels_n)
    out = []
    for d in hotels:
        trace = copy_trace(rename_calls(dialogue_to_trace(d), HOTEL_NAMES), scenario="s5", source="Hotels_1")
        rng.shuffle(trace.messages)
        out.append(trace)
    r1_n = (n - hotels_n) if n else RESTAURANTS
    for d in rng.sample(pools.s1_train, min(r1_n, len(pools.s1_train))):
        out.append(copy_trace(dialogue_to_trace(d), scenario="s5", source="Restaurants_1"))
    rng.shuffle(out)
    return out
