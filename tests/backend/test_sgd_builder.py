"""backend.sgd_builder: restaurants, cuisines, conflict rule, slot outcomes, idempotence."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, select

from backend.db import make_engine, session_scope
from backend.errors import UserError
from backend.models import Cuisine, Restaurant, SlotOutcome
from backend.sgd_builder import build_database, database_exists


def _dump(path) -> str:
    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def test_tiny_build_counts(tiny_sgd, tmp_path):
    report = build_database(str(tmp_path / "a.db"), tiny_sgd)
    assert report.restaurants == 4  # Alpha, Beta, Gamma (two branches), delta
    assert report.conflicts_resolved == 1
    assert report.cuisines == 3  # American, Breakfast, Italian
    assert report.restaurant_cuisines == 5  # Beta is Italian and Breakfast
    assert report.dialogues == 4  # train, dev and test; the Hotels_1-only dialogue is ignored
    assert report.reserve_calls_unknown_restaurant == 1
    assert (report.slots_available, report.slots_unavailable) == (2, 2)
    assert any("restaurants: 4" in line for line in report.lines())


def test_many_to_many_cuisine_and_conflict_rule(tiny_engine):
    with session_scope(tiny_engine) as s:
        beta = s.scalar(select(Restaurant).where(Restaurant.name == "Beta Cafe"))
        assert sorted(c.name for c in beta.cuisines) == ["Breakfast", "Italian"]
        assert beta.cuisine == "Italian"  # primary: seen first (tie on count)
        gamma = s.scalar(select(Restaurant).where(Restaurant.name == "Gamma Grill"))
        # Branch 1 was returned twice, branch 2 once, but only branch 2 fits the search that
        # filtered on serves_alcohol=True and returned it: the consistency rule wins.
        assert (gamma.phone_number, gamma.serves_alcohol) == ("408-000-0032", True)
        assert s.scalar(select(func.count()).select_from(Cuisine)) == 3


def test_slot_outcomes(tiny_engine):
    with session_scope(tiny_engine) as s:
        rows = {(r.date, r.time, r.party_size): r for r in s.scalars(select(SlotOutcome))}
    assert rows[("2019-03-01", "19:00", 2)].available
    alt = rows[("2019-03-02", "18:00", 4)]
    assert (alt.available, alt.alternative_time, alt.source) == (False, "18:30", "1_00001")
    assert rows[("2019-03-02", "20:00", 2)].alternative_time is None
    assert rows[("2019-03-01", "12:00", 3)].available  # dateless call counts for SGD's today


def test_rebuild_is_identical_and_if_missing(tiny_sgd, tmp_path):
    path = tmp_path / "a.db"
    assert not database_exists(str(path))
    build_database(str(path), tiny_sgd)
    first = _dump(path)
    build_database(str(path), tiny_sgd)
    assert _dump(path) == first
    assert database_exists(str(path))
    assert not (tmp_path / "a.db.building").exists()


def test_failed_build_keeps_the_old_database(tiny_sgd, tmp_path):
    path = tmp_path / "a.db"
    build_database(str(path), tiny_sgd)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="No SGD dialogue files"):
        build_database(str(path), tmp_path / "empty")
    assert not (tmp_path / "a.db.building").exists()
    engine = make_engine(path)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Restaurant)) == 4
    engine.dispose()


def test_broken_sgd_file_is_a_clear_error(tiny_sgd, tmp_path):
    (tiny_sgd / "train" / "dialogues_001.json").write_text("{not json")
    with pytest.raises(UserError, match="Cannot read SGD file"):
        build_database(str(tmp_path / "b.db"), tiny_sgd)


def test_full_sgd_build(sgd_db, data_dir, tmp_path):
    engine = make_engine(sgd_db)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Restaurant)) == 1849
        assert s.scalar(select(func.count()).select_from(SlotOutcome)) == 1469
    engine.dispose()
    report = build_database(str(tmp_path / "again.db"), data_dir / "sgd")
    assert (report.restaurants, report.conflicts_resolved, report.slot_disagreements) == (1849, 11, 0)
    assert (report.find_calls, report.reserve_calls) == (1367, 1512)
    assert _dump(tmp_path / "again.db") == _dump(sgd_db)


def test_rebuild_keeps_reservations_and_other_tables(tiny_sgd, tmp_path):
    from backend.tools import execute

    path = tmp_path / "a.db"
    build_database(str(path), tiny_sgd)
    engine = make_engine(path)
    args = {"restaurant_name": "Alpha Trattoria", "city": "San Jose", "time": "12:00"}
    assert execute(engine, "ReserveRestaurant", args, session_id="s1").ok
    with engine.begin() as conn:  # a table some other module keeps in the same file
        conn.exec_driver_sql("CREATE TABLE chat_log (id INTEGER PRIMARY KEY, text VARCHAR)")
        conn.exec_driver_sql("CREATE INDEX ix_chat_log_text ON chat_log (text)")
        conn.exec_driver_sql("INSERT INTO chat_log (text) VALUES ('hello')")
    engine.dispose()
    report = build_database(str(path), tiny_sgd)
    assert (report.reservations_kept, report.reservations_dropped, report.other_rows_kept) == (1, 0, 1)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT session_id FROM reservations").fetchall() == [("s1",)]
    assert conn.execute("SELECT text FROM chat_log").fetchall() == [("hello",)]
    conn.close()
    fresh = build_database(str(path), tiny_sgd, fresh=True)
    assert fresh.reservations_kept == 0
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM reservations").fetchone() == (0,)
    conn.close()
