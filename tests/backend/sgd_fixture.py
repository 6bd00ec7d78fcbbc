"""A tiny SGD-like data directory, written by the tests themselves (no real SGD data needed)."""

from __future__ import annotations

import json
from pathlib import Path


def place(name: str, city: str, cuisine: str, *, price: str = "moderate", music: str = "False",
          alcohol: str = "False", phone: str = "555-0100", street: str = "1 Main Street") -> dict:
    return {"city": city, "cuisine": cuisine, "has_live_music": music, "phone_number": phone,
            "price_range": price, "restaurant_name": name, "serves_alcohol": alcohol, "street_address": street}


def booked(record: dict, date: str, time: str, party: str) -> dict:
    return dict(sorted({**record, "date": date, "time": time, "party_size": party}.items()))


def frame(method: str, params: dict, results: list, acts: list[str]) -> dict:
    return {"service": "Restaurants_1", "service_call": {"method": method, "parameters": params},
            "service_results": results, "actions": [{"act": a, "slot": "", "values": []} for a in acts],
            "slots": []}


def dialogue(dialogue_id: str, *frames: dict, services=("Restaurants_1",)) -> dict:
    turns = []
    for f in frames:
        turns.append({"speaker": "USER", "utterance": "...", "frames": []})
        turns.append({"speaker": "SYSTEM", "utterance": "...", "frames": [f]})
    return {"dialogue_id": dialogue_id, "services": list(services), "turns": turns}


ALPHA = place("Alpha Trattoria", "San Jose", "Italian", alcohol="True", phone="408-000-0001")
BETA = place("Beta Cafe", "San Jose", "Italian", price="inexpensive", phone="408-000-0002")
BETA_BREAKFAST = {**BETA, "cuisine": "Breakfast"}
# A chain with two branches in one city: the rule keeps the record that fits the alcohol filter.
GAMMA_1 = place("Gamma Grill", "San Jose", "American", phone="408-000-0031", street="31 First Street")
GAMMA_2 = place("Gamma Grill", "San Jose", "American", alcohol="True", phone="408-000-0032",
                street="32 Second Street")
DELTA = place("delta diner", "Oakland", "American", music="True", phone="510-000-0004")


def write_tiny_sgd(root: Path) -> Path:
    """A three-split SGD-like folder: 4 restaurants, one of them a chain, one multi-cuisine."""
    sgd = root / "sgd"
    train = [
        dialogue(
            "1_00000",
            frame("FindRestaurants", {"city": "San Jose", "cuisine": "Italian"}, [ALPHA, BETA], ["OFFER"]),
            frame("ReserveRestaurant", {"city": "San Jose", "date": "2019-03-01", "party_size": "2",
                                        "restaurant_name": "Alpha Trattoria", "time": "19:00"},
                  [booked(ALPHA, "2019-03-01", "19:00", "2")], ["NOTIFY_SUCCESS"]),
        ),
        dialogue(
            "1_00001",
            frame("FindRestaurants", {"city": "San Jose", "cuisine": "Breakfast"}, [BETA_BREAKFAST], ["OFFER"]),
            frame("ReserveRestaurant", {"city": "San Jose", "date": "2019-03-02", "party_size": "4",
                                        "restaurant_name": "Beta Cafe", "time": "18:00"},
                  [booked(BETA, "2019-03-02", "18:30", "4")], ["OFFER", "NOTIFY_FAILURE"]),
            frame("ReserveRestaurant", {"city": "San Jose", "date": "2019-03-02", "party_size": "2",
                                        "restaurant_name": "Beta Cafe", "time": "20:00"},
                  [], ["NOTIFY_FAILURE", "REQ_MORE"]),
            frame("FindRestaurants", {"city": "San Jose", "cuisine": "American"}, [GAMMA_1], ["OFFER"]),
            frame("FindRestaurants", {"city": "San Jose", "cuisine": "American"}, [GAMMA_1], ["OFFER"]),
        ),
        dialogue("1_00002", frame("FindRestaurants", {"city": "Oakland", "cuisine": "Burger"}, [], []),
                 services=("Hotels_1",)),  # not a Restaurants_1 dialogue: ignored
    ]
    dev = [
        dialogue(
            "2_00000",
            frame("FindRestaurants", {"city": "San Jose", "cuisine": "American", "serves_alcohol": "True"},
                  [GAMMA_2], ["OFFER"]),
            frame("ReserveRestaurant", {"city": "Oakland", "party_size": "3",
                                        "restaurant_name": "delta diner", "time": "12:00"},
                  [booked(DELTA, "2019-03-01", "12:00", "3")], ["NOTIFY_SUCCESS"]),
            frame("ReserveRestaurant", {"city": "Oakland", "date": "2019-03-01", "party_size": "2",
                                        "restaurant_name": "Nowhere Bistro", "time": "12:00"},
                  [], ["NOTIFY_FAILURE"]),
        )
    ]
    test = [dialogue("3_00000", frame("FindRestaurants", {"city": "oakland", "cuisine": "american"},
                                      [DELTA], ["OFFER"]))]
    for split, dialogues in (("train", train), ("dev", dev), ("test", test)):
        (sgd / split).mkdir(parents=True)
        (sgd / split / "dialogues_001.json").write_text(json.dumps(dialogues))
        (sgd / split / "schema.json").write_text("[]")
    return sgd
