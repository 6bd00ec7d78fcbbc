"""Build the restaurant database from every Restaurants_1 dialogue in SGD.

Rules (deterministic: the same SGD files always give the same database, row ids included):

- Restaurants: every restaurant in any `service_results`, deduplicated by (name, city).
- Cuisines: SGD lists some places under several cuisines (e.g. "Breakfast" in one dialogue and
  "Coffeehouse" in another), so a restaurant gets every cuisine it was returned under. The
  primary `cuisine` (shown in booking records) is the one seen most often; ties: first seen.
- Conflicting attributes (11 places, all chains with several branches in one city: different
  phone/address, sometimes `serves_alcohol`): we keep one branch's record as a whole, choosing
  (1) the one consistent with the most FindRestaurants calls that returned the place with a
  filter on its attributes, then (2) the one returned most often, then (3) the first seen.
- Availability (`slot_outcomes`): each ReserveRestaurant call records the outcome SGD gave for
  (restaurant, date, time, party size): success → available; failure with a returned slot →
  unavailable, with that slot's time as the alternative; failure with no result → unavailable.
  Calls without a date count for SGD's today (2019-03-01) unless a dated call recorded that slot.
  If dialogues disagree about one slot the most frequent outcome wins, ties: first seen.
  Calls naming a restaurant that never appears in results (38 in SGD, all failures) are skipped:
  the tool answers them with an "unknown restaurant" error.

Run it with `resto db build`; see `backend/commands.py`.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, insert, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from backend.db import Base, create_schema, is_sqlite, make_engine, session_scope, to_url
from backend.errors import UserError
from backend.models import Cuisine, Restaurant, SlotOutcome, restaurant_cuisines
from backend.sgd import SgdCall, iter_calls

SGD_TODAY = "2019-03-01"
_VARIANT_KEYS = ("price_range", "has_live_music", "serves_alcohol", "phone_number", "street_address")
_FILTER_KEYS = ("price_range", "has_live_music", "serves_alcohol")


@dataclass
class _Place:
    name: str
    city: str
    first_seen: int
    variants: Counter = field(default_factory=Counter)  # variant tuple -> times returned
    variant_first: dict = field(default_factory=dict)  # variant tuple -> first seen index
    cuisines: Counter = field(default_factory=Counter)
    cuisine_first: dict = field(default_factory=dict)
    filters: list = field(default_factory=list)  # attribute filters of searches returning it


@dataclass
class BuildReport:
    restaurants: int = 0
    cuisines: int = 0
    restaurant_cuisines: int = 0
    conflicts_resolved: int = 0
    find_calls: int = 0
    reserve_calls: int = 0
    dialogues: int = 0
    slots_available: int = 0
    slots_unavailable: int = 0
    reserve_calls_unknown_restaurant: int = 0
    slot_disagreements: int = 0
    reservations_kept: int = 0  # from the previous database (rebuilds)
    reservations_dropped: int = 0
    other_rows_kept: int = 0  # e.g. the session log
    seconds: float = 0.0

    def lines(self) -> list[str]:
        return [
            f"dialogues with Restaurants_1 calls: {self.dialogues}",
            f"service calls: {self.find_calls} FindRestaurants, {self.reserve_calls} ReserveRestaurant",
            f"restaurants: {self.restaurants} ({self.conflicts_resolved} with conflicting records resolved)",
            f"cuisines: {self.cuisines} ({self.restaurant_cuisines} restaurant-cuisine links)",
            f"slot outcomes: {self.slots_available} available, {self.slots_unavailable} unavailable "
            f"({self.slot_disagreements} slots with disagreeing dialogues)",
            f"reserve calls naming an unknown restaurant (skipped): {self.reserve_calls_unknown_restaurant}",
            f"kept from the previous database: {self.reservations_kept} reservations "
            f"({self.reservations_dropped} dropped: restaurant gone), {self.other_rows_kept} other rows",
            f"built in {self.seconds:.2f} s",
        ]


def _key(name: str, city: str) -> tuple[str, str]:
    return name.strip().lower(), city.strip().lower()


def _collect(calls: list[SgdCall]) -> dict[tuple[str, str], _Place]:
    places: dict[tuple[str, str], _Place] = {}
    seen = 0
    for call in calls:
        filters = {k: call.parameters[k] for k in _FILTER_KEYS if k in call.parameters}
        for result in call.results:
            seen += 1
            key = _key(result["restaurant_name"], result["city"])
            place = places.get(key)
            if place is None:
                place = places[key] = _Place(result["restaurant_name"], result["city"], seen)
            variant = tuple(result[k] for k in _VARIANT_KEYS)
            place.variants[variant] += 1
            place.variant_first.setdefault(variant, seen)
            place.cuisines[result["cuisine"]] += 1
            place.cuisine_first.setdefault(result["cuisine"], seen)
            if call.method == "FindRestaurants" and filters:
                place.filters.append(filters)
    return places


def _choose_variant(place: _Place) -> tuple[str, ...]:
    def score(variant: tuple[str, ...]) -> tuple[int, int, int]:
        attrs = dict(zip(_VARIANT_KEYS, variant, strict=True))
        consistent = sum(all(attrs[k].lower() == v.lower() for k, v in f.items()) for f in place.filters)
        return consistent, place.variants[variant], -place.variant_first[variant]

    return max(place.variants, key=score)


def _slot_outcomes(calls: list[SgdCall], ids: dict[tuple[str, str], int], report: BuildReport) -> list[dict]:
    votes: dict[tuple, Counter] = {}
    first: dict[tuple, dict[tuple, str]] = {}
    dated: set[tuple] = set()
    for call in calls:
        if call.method != "ReserveRestaurant":
            continue
        p = call.parameters
        rid = ids.get(_key(p.get("restaurant_name", ""), p.get("city", "")))
        if rid is None:
            report.reserve_calls_unknown_restaurant += 1
            continue
        slot = (rid, p.get("date") or SGD_TODAY, p["time"], int(p.get("party_size") or 2))
        if p.get("date"):
            dated.add(slot)
        elif slot in dated:
            continue  # a dated call already speaks for this slot
        alternative = call.results[0]["time"] if call.outcome == "alternative" else None
        value = (call.outcome == "success", alternative)
        votes.setdefault(slot, Counter())[value] += 1
        first.setdefault(slot, {}).setdefault(value, call.dialogue_id)
    rows = []
    for slot, counter in votes.items():
        if len(counter) > 1:
            report.slot_disagreements += 1
        order = list(first[slot])  # insertion order = first seen
        (available, alternative) = max(counter, key=lambda v: (counter[v], -order.index(v)))
        rid, date, when, party = slot
        rows.append(
            dict(restaurant_id=rid, date=date, time=when, party_size=party, available=available,
                 alternative_time=alternative, capacity=None, source=first[slot][(available, alternative)])
        )
        if available:
            report.slots_available += 1
        else:
            report.slots_unavailable += 1
    rows.sort(key=lambda r: (r["restaurant_id"], r["date"], r["time"], r["party_size"]))
    for index, row in enumerate(rows, start=1):
        row["id"] = index
    return rows


def populate(engine: Engine, sgd_dir: Path) -> BuildReport:
    """Insert SGD's restaurants, cuisines and slot outcomes into an empty schema."""
    start = time.perf_counter()
    report = BuildReport()
    calls = list(iter_calls(sgd_dir))
    report.dialogues = len({c.dialogue_id for c in calls})
    report.find_calls = sum(c.method == "FindRestaurants" for c in calls)
    report.reserve_calls = len(calls) - report.find_calls
    places = _collect(calls)

    cuisine_names = sorted({c for p in places.values() for c in p.cuisines}, key=str.lower)
    cuisine_ids = {name.lower(): i for i, name in enumerate(cuisine_names, start=1)}
    ordered = sorted(places.items(), key=lambda kv: (kv[1].city, kv[1].name))
    ids: dict[tuple[str, str], int] = {}
    rows, links = [], []
    for rid, (key, place) in enumerate(ordered, start=1):
        ids[key] = rid
        if len(place.variants) > 1:
            report.conflicts_resolved += 1
        attrs = dict(zip(_VARIANT_KEYS, _choose_variant(place), strict=True))
        primary = max(place.cuisines, key=lambda c: (place.cuisines[c], -place.cuisine_first[c]))
        rows.append(
            dict(id=rid, name=place.name, city=place.city, name_key=key[0], city_key=key[1],
                 cuisine=primary, price_range=attrs["price_range"],
                 has_live_music=attrs["has_live_music"] == "True",
                 serves_alcohol=attrs["serves_alcohol"] == "True",
                 phone_number=attrs["phone_number"], street_address=attrs["street_address"])
        )
        links.extend({"restaurant_id": rid, "cuisine_id": cuisine_ids[c.lower()]} for c in set(place.cuisines))
    links.sort(key=lambda r: (r["restaurant_id"], r["cuisine_id"]))
    slots = _slot_outcomes(calls, ids, report)

    with session_scope(engine, write=True) as session:
        session.execute(
            insert(Cuisine), [dict(id=i, name=n, name_key=n.lower()) for n, i in zip(cuisine_names, cuisine_ids.values(), strict=True)]
        )
        session.execute(insert(Restaurant), rows)
        session.execute(insert(restaurant_cuisines), links)
        if slots:
            session.execute(insert(SlotOutcome), slots)
    report.restaurants, report.cuisines, report.restaurant_cuisines = len(rows), len(cuisine_names), len(links)
    report.seconds = time.perf_counter() - start
    return report


def _sqlite_path(url: str) -> Path | None:
    if url.startswith("sqlite") and "///" in url:
        path = url.split("///", 1)[1]
        return Path(path) if path and path != ":memory:" else None
    return None


def existing_database(url: str | Path):
    """The engine of the restaurant database at `url` (a URL or SQLite path), or a UserError saying to
    build it first."""
    if not database_exists(str(url)):
        raise UserError(f"No restaurant database at {url}; run `resto db build` first.")
    return make_engine(url)


def database_exists(url: str) -> bool:
    """True when the database already holds restaurants (for `--if-missing`)."""
    path = _sqlite_path(to_url(url))
    if path is not None and not path.exists():
        return False
    engine = make_engine(url)
    try:
        if "restaurants" not in inspect(engine).get_table_names():
            return False
        with session_scope(engine) as session:
            return session.scalar(select(Restaurant.id).limit(1)) is not None
    except SQLAlchemyError as exc:
        raise UserError(f"{url} is not a database resto can read ({type(exc).__name__}).") from None
    finally:
        engine.dispose()


SGD_TABLES = ("booking_policy", "cuisines", "restaurants", "restaurant_cuisines", "slot_outcomes")


def _carry_over(old: Path, new: Path) -> tuple[int, int, int]:
    """Copy what users made from the old SQLite file into the new one: reservations (re-linked to
    their restaurant by name and city; those whose restaurant is gone are dropped) and every table
    the builder does not own, e.g. the agent's session log. Returns (kept, dropped, other rows)."""
    conn = sqlite3.connect(new, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys=OFF")  # rows arrive table by table
        conn.execute("ATTACH DATABASE ? AS old", (str(old),))
        old_tables = {
            name: sql for name, sql in conn.execute(
                "SELECT name, sql FROM old.sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        }
        if "restaurants" not in old_tables:
            return 0, 0, 0
        conn.execute("BEGIN")
        kept = dropped = other = 0
        if "reservations" in old_tables:
            before = conn.execute("SELECT count(*) FROM old.reservations").fetchone()[0]
            conn.execute(
                "INSERT INTO reservations (id, restaurant_id, date, time, party_size, status, table_number, "
                "created_at, session_id) SELECT o.id, n.id, o.date, o.time, o.party_size, o.status, "
                "o.table_number, o.created_at, o.session_id FROM old.reservations o "
                "JOIN old.restaurants r ON r.id = o.restaurant_id "
                "JOIN restaurants n ON n.name = r.name AND n.city = r.city ORDER BY o.id"
            )
            kept = conn.execute("SELECT count(*) FROM reservations").fetchone()[0]
            dropped = before - kept
        mine = set(SGD_TABLES) | {"reservations"}
        new_tables = {r[0] for r in conn.execute("SELECT name FROM main.sqlite_master WHERE type='table'")}
        for name, sql in old_tables.items():
            if name in mine:
                continue
            if name not in new_tables:
                conn.execute(sql)
                for (index_sql,) in conn.execute(
                    "SELECT sql FROM old.sqlite_master WHERE type='index' AND tbl_name=? AND sql IS NOT NULL",
                    (name,),
                ).fetchall():
                    conn.execute(index_sql)
            conn.execute(f'INSERT INTO main."{name}" SELECT * FROM old."{name}"')
            other += conn.execute(f'SELECT count(*) FROM old."{name}"').fetchone()[0]
        conn.execute("COMMIT")
        return kept, dropped, other
    finally:
        conn.close()


def build_database(url: str, sgd_dir: Path, *, fresh: bool = False) -> BuildReport:
    """(Re)build the database at `url` from SGD. A SQLite file is built next to the target and
    moved into place at the end, so readers never see a half-built database and a failed build
    leaves the old one intact. Rebuilding keeps the reservations and the session log of the old
    file unless `fresh`. Other databases: the restaurant tables and reservations are recreated,
    other tables (the session log) stay."""
    start = time.perf_counter()
    url = to_url(url)
    path = _sqlite_path(url)
    if path is None:
        engine = make_engine(url)
        try:
            # Only the builder's tables and the reservations that point into them; the rest (the
            # session log) stays.
            mine = [Base.metadata.tables[t] for t in (*SGD_TABLES, "reservations")]
            Base.metadata.drop_all(engine, tables=mine)
            create_schema(engine)
            report = populate(engine, sgd_dir)
        finally:
            engine.dispose()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".building")
        for stale in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            stale.unlink(missing_ok=True)
        engine = make_engine(tmp)
        try:
            create_schema(engine)
            report = populate(engine, sgd_dir)
            engine.dispose()
            if path.exists() and not fresh:
                kept = _carry_over(path, tmp)
                report.reservations_kept, report.reservations_dropped, report.other_rows_kept = kept
            raw = engine.raw_connection()  # fold the WAL into the file before moving it
            try:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
        except BaseException:
            engine.dispose()
            for stale in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                stale.unlink(missing_ok=True)
            raise
        engine.dispose()
        for side in (Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            side.unlink(missing_ok=True)
        os.replace(tmp, path)
    report.seconds = time.perf_counter() - start
    return report


__all__ = ["SGD_TODAY", "BuildReport", "build_database", "database_exists", "is_sqlite", "populate"]
