"""backend.tools.execute: SGD-shaped results, normalisation, bookings, and bad arguments."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from backend.db import make_engine, session_scope
from backend.models import Reservation, Restaurant, SlotOutcome
from backend.tools import execute
from tests.backend.sgd_fixture import ALPHA, BETA, DELTA, booked

FIND_KEYS = ["city", "cuisine", "has_live_music", "phone_number", "price_range", "restaurant_name",
             "serves_alcohol", "street_address"]
RESERVE_KEYS = ["city", "cuisine", "date", "has_live_music", "party_size", "phone_number", "price_range",
                "restaurant_name", "serves_alcohol", "street_address", "time"]


def _reservations(engine) -> list[Reservation]:
    with session_scope(engine) as s:
        return list(s.scalars(select(Reservation)))


def test_find_is_sgd_shaped_sorted_and_case_insensitive(tiny_engine):
    outcome = execute(tiny_engine, "FindRestaurants", {"cuisine": "italian", "city": "SAN JOSE"})
    assert outcome.ok and outcome.error is None
    assert outcome.results == [ALPHA, BETA]
    assert all(list(r) == FIND_KEYS for r in outcome.results)


def test_find_shows_the_cuisine_searched_for(tiny_engine):
    results = execute(tiny_engine, "FindRestaurants", {"cuisine": "Breakfast", "city": "San Jose"}).results
    assert [(r["restaurant_name"], r["cuisine"]) for r in results] == [("Beta Cafe", "Breakfast")]


@pytest.mark.parametrize(
    ("extra", "names"),
    [({"price_range": "inexpensive"}, ["Beta Cafe"]), ({"price_range": "Moderate"}, ["Alpha Trattoria"]),
     ({"serves_alcohol": "True"}, ["Alpha Trattoria"]), ({"serves_alcohol": False}, ["Beta Cafe"]),
     ({"has_live_music": "True"}, []), ({"price_range": "cheap"}, ["Beta Cafe"]),
     ({"price_range": "affordable"}, ["Alpha Trattoria"])],  # moderate, as SGD's annotators read it
)
def test_find_filters(tiny_engine, extra, names):
    results = execute(tiny_engine, "FindRestaurants", {"cuisine": "Italian", "city": "San Jose", **extra}).results
    assert [r["restaurant_name"] for r in results] == names


def test_find_limit(tiny_engine):
    args = {"cuisine": "Italian", "city": "San Jose"}
    assert len(execute(tiny_engine, "FindRestaurants", args, limit=1).results) == 1
    assert len(execute(tiny_engine, "FindRestaurants", args, limit=0).results) == 2


def test_reserve_books_and_returns_the_record(tiny_engine):
    args = {"restaurant_name": "DELTA DINER", "city": "oakland", "time": "7:30pm", "date": "tomorrow",
            "party_size": 4}
    outcome = execute(tiny_engine, "ReserveRestaurant", args, session_id="s-1")
    assert outcome.results == [booked(DELTA, "2019-03-02", "19:30", "4")]
    assert list(outcome.results[0]) == RESERVE_KEYS
    [reservation] = _reservations(tiny_engine)
    assert (reservation.session_id, reservation.status, reservation.table_number) == ("s-1", "confirmed", 1)


def test_reserve_defaults_are_sgds(tiny_engine):
    outcome = execute(tiny_engine, "ReserveRestaurant", {"restaurant_name": "Alpha Trattoria",
                                                         "city": "San Jose", "time": "7 pm"})
    assert outcome.results == [booked(ALPHA, "2019-03-01", "19:00", "2")]


def test_dry_run_writes_nothing(tiny_engine):
    args = {"restaurant_name": "Alpha Trattoria", "city": "San Jose", "time": "13:00"}
    assert execute(tiny_engine, "ReserveRestaurant", args, dry_run=True).results
    assert _reservations(tiny_engine) == []


def test_sgd_failures_are_reproduced(tiny_engine):
    # SGD offered 18:30 instead of 18:00 for four: the alternative slot comes back, nothing is booked.
    alt = execute(tiny_engine, "ReserveRestaurant", {"restaurant_name": "Beta Cafe", "city": "San Jose",
                                                      "time": "18:00", "date": "2019-03-02", "party_size": "4"})
    assert alt.ok and alt.results == [booked(BETA, "2019-03-02", "18:30", "4")]
    # A larger party at a slot SGD refused for four is refused too.
    bigger = execute(tiny_engine, "ReserveRestaurant", {"restaurant_name": "Beta Cafe", "city": "San Jose",
                                                         "time": "18:00", "date": "2019-03-02", "party_size": "5"})
    assert bigger.results == [booked(BETA, "2019-03-02", "18:30", "5")]
    failed = execute(tiny_engine, "ReserveRestaurant", {"restaurant_name": "Beta Cafe", "city": "San Jose",
                                                         "time": "20:00", "date": "2019-03-02"})
    assert failed.ok and failed.results == []
    assert _reservations(tiny_engine) == []


def test_full_slot_offers_the_nearest_free_time(tiny_engine):
    with session_scope(tiny_engine) as s:  # a slot with one table
        alpha = s.scalar(select(Restaurant.id).where(Restaurant.name == "Alpha Trattoria"))
        s.add(SlotOutcome(restaurant_id=alpha, date="2019-03-05", time="12:00", party_size=2, available=True,
                          capacity=1, source="test"))
    args = {"restaurant_name": "Alpha Trattoria", "city": "San Jose", "time": "12:00", "date": "2019-03-05"}
    assert execute(tiny_engine, "ReserveRestaurant", args).results[0]["time"] == "12:00"
    second = execute(tiny_engine, "ReserveRestaurant", args).results
    assert second[0]["time"] == "11:45"  # nothing booked: the user confirms the new time first
    assert len(_reservations(tiny_engine)) == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"restaurant_name": "Nowhere", "city": "San Jose", "time": "19:00"}, "no restaurant named 'Nowhere'"),
        ({"restaurant_name": "Alpha Trattoria", "city": "San Jose", "time": "19:00", "party_size": "0"},
         "party_size must be one of"),
        ({"restaurant_name": "Alpha Trattoria", "city": "San Jose", "time": "19:00", "party_size": 40},
         "party_size must be one of"),
        ({"restaurant_name": "Alpha Trattoria", "time": "19:00"}, "missing required argument 'city'"),
        ({"restaurant_name": "Alpha'; DROP TABLE restaurants;--", "city": "San Jose", "time": "19:00"},
         "cannot be part of a restaurant name"),
        ({"restaurant_name": "A" * 10_000, "city": "San Jose", "time": "19:00"}, "too long"),
        ({"restaurant_name": "Alpha Trattoria", "city": "San Jose", "time": "sometime"}, "not a time"),
        ({"restaurant_name": "Alpha Trattoria", "city": "San Jose", "time": "19:00", "date": "2019-01-01"},
         "in the past"),
        ({"restaurant_name": "Alpha Trattoria", "city": "San Jose", "time": "19:00", "tip": "5"},
         "unknown argument 'tip'"),
        ({"restaurant_name": 7, "city": "San Jose", "time": "19:00"}, "must be a string"),
    ],
)
def test_bad_arguments_give_a_clear_error_and_write_nothing(tiny_engine, arguments, message):
    outcome = execute(tiny_engine, "ReserveRestaurant", arguments)
    assert not outcome.ok
    assert outcome.results == [{"error": outcome.error}]
    assert message in outcome.error
    assert _reservations(tiny_engine) == []


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [("Book", {}, "Unknown tool 'Book'"), ("FindRestaurants", "{oops", "not valid JSON"),
     ("FindRestaurants", ["x"], "must be a JSON object"),
     ("FindRestaurants", {"cuisine": "Italian"}, "missing required argument 'city'"),
     ("FindRestaurants", {"cuisine": "Italian", "city": "San Jose", "price_range": "free"}, "price_range must be")],
)
def test_bad_calls(tiny_engine, name, arguments, message):
    outcome = execute(tiny_engine, name, arguments)
    assert not outcome.ok and message in outcome.error


def test_json_string_arguments(tiny_engine):
    outcome = execute(tiny_engine, "FindRestaurants", '{"cuisine": "American", "city": "Oakland"}')
    assert outcome.results == [DELTA]


def test_a_broken_database_is_an_error_result_not_an_exception(tmp_path):
    engine = make_engine(tmp_path / "empty.db")  # no tables at all
    outcome = execute(engine, "FindRestaurants", {"cuisine": "Italian", "city": "San Jose"})
    assert not outcome.ok and "database failed" in outcome.error
    engine.dispose()


def test_full_sgd_examples(sgd_engine):
    results = execute(sgd_engine, "FindRestaurants", {"cuisine": "Italian", "city": "San Francisco",
                                                      "price_range": "moderate"}).results
    assert [r["restaurant_name"] for r in results][:3] == ["54 Mint Ristorante Italiano", "A16", "Allegro Romano"]
    assert len(results) == 10
    ok = execute(sgd_engine, "ReserveRestaurant", {"restaurant_name": "Bird Dog", "city": "Palo Alto",
                                                   "time": "11:30 am"}, dry_run=True)
    assert ok.results[0]["time"] == "11:30"
    with session_scope(sgd_engine) as s:
        assert s.scalar(select(func.count()).select_from(Reservation)) == 0


_text = st.one_of(st.text(max_size=300), st.integers(), st.none(), st.booleans(),
                  st.lists(st.text(max_size=5), max_size=2))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["FindRestaurants", "ReserveRestaurant"]),
       arguments=st.dictionaries(st.sampled_from(["cuisine", "city", "restaurant_name", "time", "date",
                                                  "party_size", "price_range", "junk"]), _text, max_size=6))
def test_arbitrary_arguments_never_raise(tiny_engine, name, arguments):
    outcome = execute(tiny_engine, name, arguments)
    assert isinstance(outcome.results, list)
    if not outcome.ok:
        assert outcome.results == [{"error": outcome.error}] and outcome.error.endswith(".")
    assert _reservations(tiny_engine) == []  # random names never match a restaurant
