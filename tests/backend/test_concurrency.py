"""No overbooking: many threads and many processes book the same slot of one SQLite file at once.

The slot has 3 tables (the policy default). Whatever the interleaving, exactly 3 bookings succeed,
every other call gets SGD's "not available" answer (an alternative slot or []), and the database
holds exactly the 3 reservations the successful calls reported, nothing lost, nothing extra.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import select

from backend.db import make_engine, session_scope
from backend.models import Reservation
from backend.tools import execute

ARGS = {"restaurant_name": "Alpha Trattoria", "city": "San Jose", "time": "13:00", "date": "2019-03-04"}
CAPACITY = 3


def _book(engine, session_id: str) -> bool:
    outcome = execute(engine, "ReserveRestaurant", ARGS, session_id=session_id)
    assert outcome.ok, outcome.error
    return bool(outcome.results) and outcome.results[0]["time"] == "13:00"


def _check_database(db: Path, winners: list[str]) -> None:
    engine = make_engine(db)
    with session_scope(engine) as s:
        rows = list(s.scalars(select(Reservation).where(Reservation.time == "13:00")))
    engine.dispose()
    assert len(rows) == CAPACITY
    assert sorted(r.session_id for r in rows) == sorted(winners)
    assert sorted(r.table_number for r in rows) == list(range(1, CAPACITY + 1))


def test_threads_never_overbook(tiny_db):
    engine = make_engine(tiny_db)
    barrier = threading.Barrier(12)

    def attempt(i: int) -> tuple[str, bool]:
        barrier.wait()
        return f"thread-{i}", _book(engine, f"thread-{i}")

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(attempt, range(12)))
    engine.dispose()
    winners = [sid for sid, ok in results if ok]
    assert len(winners) == CAPACITY
    _check_database(tiny_db, winners)


def _process_worker(db: str, index: int, start, queue) -> None:
    engine = make_engine(db)
    start.wait()
    for j in range(3):
        sid = f"proc-{index}-{j}"
        queue.put((sid, _book(engine, sid)))
    engine.dispose()


def test_processes_never_overbook(tiny_db):
    ctx = multiprocessing.get_context("fork")
    start, queue = ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=_process_worker, args=(str(tiny_db), i, start, queue)) for i in range(4)]
    for w in workers:
        w.start()
    start.set()
    results = [queue.get(timeout=60) for _ in range(4 * 3)]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    winners = [sid for sid, ok in results if ok]
    assert len(winners) == CAPACITY
    _check_database(tiny_db, winners)
