"""The backend on a real PostgreSQL server (started by the tests): the same database and the same tool
answers as SQLite, rebuilds that keep the session log, no overbooking under concurrent bookings, and
`resto db` commands pointed at a postgresql:// URL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from backend.db import make_engine, session_scope
from backend.models import Cuisine, Reservation, Restaurant, SlotOutcome
from backend.sgd_builder import build_database, database_exists
from backend.tools import execute

CALLS = [
    ("FindRestaurants", {"cuisine": "italian", "city": "SAN JOSE"}),
    ("FindRestaurants", {"cuisine": "Italian", "city": "San Jose", "price_range": "cheap"}),
    ("FindRestaurants", {"cuisine": "Sushi", "city": "Nowhere"}),
    ("ReserveRestaurant", {"restaurant_name": "DELTA DINER", "city": "oakland", "time": "7:30pm",
                           "date": "tomorrow", "party_size": 4}),
    ("ReserveRestaurant", {"restaurant_name": "Alpha Trattoria", "city": "San Jose", "time": "13:00",
                           "date": "2019-03-04"}),
    ("ReserveRestaurant", {"restaurant_name": "No Such Place", "city": "San Jose", "time": "13:00"}),
    ("FindRestaurants", {"cuisine": 3}),  # bad arguments: an error result, not an exception
]


def counts(engine) -> dict[str, int]:
    with session_scope(engine) as s:
        return {t.__tablename__: s.scalar(select(func.count()).select_from(t))
                for t in (Cuisine, Restaurant, SlotOutcome, Reservation)}


def test_the_same_database_and_tool_answers_as_sqlite(pg_url, tiny_sgd, tmp_path):
    lite_path = tmp_path / "resto.db"
    lite_report = build_database(str(lite_path), tiny_sgd)
    pg_report = build_database(pg_url, tiny_sgd)
    assert database_exists(pg_url)
    assert pg_report.restaurants == lite_report.restaurants > 0
    lite, pg = make_engine(lite_path), make_engine(pg_url)
    try:
        assert pg.dialect.name == "postgresql"
        assert counts(pg) == counts(lite)
        for name, args in CALLS:
            on_pg = execute(pg, name, args, session_id="s-1")
            on_lite = execute(lite, name, args, session_id="s-1")
            assert (on_pg.ok, on_pg.results, on_pg.error) == (on_lite.ok, on_lite.results, on_lite.error), name
        assert counts(pg)["reservations"] == counts(lite)["reservations"] >= 2
    finally:
        lite.dispose()
        pg.dispose()


def test_a_rebuild_keeps_the_session_log(pg_url, tiny_sgd):
    from agent.conversation import ToolCall
    from agent.sessionlog import SessionLog

    build_database(pg_url, tiny_sgd)
    engine = make_engine(pg_url)
    try:
        log = SessionLog(engine)
        sid = log.start("tiny")
        turn = [{"role": "user", "content": "Italian in San Jose"},
                ToolCall("respond_to_user", {"message": "Alpha Trattoria?"}).to_message()]
        log.log_turn(sid, turn, {"latency_s": 0.5})
        build_database(pg_url, tiny_sgd)  # recreates the restaurant tables only
        assert SessionLog(engine).get(sid).messages == turn
        assert [s.id for s in SessionLog(engine).list_sessions(search="San Jose")] == [sid]
    finally:
        engine.dispose()


def test_concurrent_bookings_of_one_slot_never_overbook(pg_url, tiny_sgd):
    build_database(pg_url, tiny_sgd)
    engine = make_engine(pg_url)
    args = {"restaurant_name": "Alpha Trattoria", "city": "San Jose", "time": "13:00", "date": "2019-03-04"}
    barrier = threading.Barrier(10)

    def attempt(i: int) -> tuple[str, bool]:
        barrier.wait()
        outcome = execute(engine, "ReserveRestaurant", args, session_id=f"thread-{i}")
        assert outcome.ok, outcome.error
        return f"thread-{i}", bool(outcome.results) and outcome.results[0]["time"] == "13:00"

    try:
        with ThreadPoolExecutor(max_workers=10) as pool:
            results = list(pool.map(attempt, range(10)))
        winners = sorted(sid for sid, ok in results if ok)
        with session_scope(engine) as s:
            rows = list(s.scalars(select(Reservation).where(Reservation.time == "13:00")))
        assert len(winners) == 3  # the slot's tables (the booking policy's default)
        assert sorted(r.session_id for r in rows) == winners
        assert sorted(r.table_number for r in rows) == [1, 2, 3]
    finally:
        engine.dispose()


def test_db_commands_take_a_postgresql_url(pg_url, tiny_sgd, capsys):
    from cli.main import main

    assert main(["--data-dir", str(tiny_sgd.parent), "db", "build", "--db", pg_url]) == 0
    assert main(["db", "build", "--db", pg_url, "--if-missing"]) == 0
    capsys.readouterr()
    assert main(["db", "dump", "--db", pg_url]) == 2  # SQLite dumps only: one clear line
    assert "pg_dump" in capsys.readouterr().err
