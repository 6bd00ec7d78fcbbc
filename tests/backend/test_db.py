"""backend.db: engine pragmas, sessions, foreign keys, a locked database, schema creation."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from backend.db import DatabaseBusyError, create_schema, make_engine, session_scope, to_url
from backend.models import BookingPolicy, Reservation


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(tmp_path / "sub" / "t.db")
    create_schema(engine)
    yield engine
    engine.dispose()


def test_sqlite_pragmas(engine):
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() > 0


def test_to_url():
    assert to_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert to_url("/tmp/x.db") == "sqlite:////tmp/x.db"


def test_schema_has_tables_and_reference_data(engine):
    names = set(inspect(engine).get_table_names())
    assert {"restaurants", "cuisines", "restaurant_cuisines", "reservations", "slot_outcomes"} <= names
    with session_scope(engine) as s:
        assert s.get(BookingPolicy, "default_slot_capacity").value == 3
    create_schema(engine)  # idempotent on an existing database


def test_foreign_keys_enforced(engine):
    with pytest.raises(IntegrityError):
        with session_scope(engine) as s:
            s.add(Reservation(restaurant_id=999, date="2019-03-01", time="19:00", party_size=2))


def test_session_scope_commit_and_rollback(engine):
    with session_scope(engine) as s:
        s.add(BookingPolicy(key="k1", value=1))
    with session_scope(engine, commit=False) as s:
        s.add(BookingPolicy(key="k2", value=2))
    with pytest.raises(RuntimeError):
        with session_scope(engine) as s:
            s.add(BookingPolicy(key="k3", value=3))
            s.flush()
            raise RuntimeError("boom")
    with session_scope(engine) as s:
        keys = set(s.scalars(select(BookingPolicy.key)))
    assert "k1" in keys and "k2" not in keys and "k3" not in keys


def test_locked_database_waits_then_fails_clearly(tmp_path):
    path = tmp_path / "locked.db"
    engine = make_engine(path, busy_timeout_ms=200)
    create_schema(engine)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with pytest.raises(DatabaseBusyError, match="locked by another process"):
            with session_scope(engine, write=True) as s:
                s.add(BookingPolicy(key="x", value=1))
    finally:
        other.execute("ROLLBACK")
        other.close()
        engine.dispose()
