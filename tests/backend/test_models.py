"""seed_db.sql and the ORM define the same schema (the SQL file is what `resto db build` runs)."""

from __future__ import annotations

from sqlalchemy import inspect

from backend.db import Base, create_schema, make_engine
from backend.models import Restaurant

OURS = ["booking_policy", "cuisines", "restaurants", "reservations", "restaurant_cuisines", "slot_outcomes"]


def _describe(engine, table):
    insp = inspect(engine)
    columns = [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)]
    pk = insp.get_pk_constraint(table)["constrained_columns"]
    fks = sorted((tuple(f["constrained_columns"]), f["referred_table"], f.get("options", {}).get("ondelete"))
                 for f in insp.get_foreign_keys(table))
    uniques = sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table))
    indexes = sorted((i["name"], tuple(i["column_names"])) for i in insp.get_indexes(table))
    return columns, pk, fks, uniques, indexes


def test_seed_sql_matches_orm(tmp_path):
    seeded = make_engine(tmp_path / "seed.db")
    create_schema(seeded)
    orm = make_engine(tmp_path / "orm.db")
    Base.metadata.create_all(orm, tables=[Base.metadata.tables[t] for t in OURS])
    for table in OURS:
        assert _describe(seeded, table) == _describe(orm, table), table
    seeded.dispose()
    orm.dispose()


def test_restaurants_unique_and_indexed():
    table = Restaurant.__table__
    assert any({c.name for c in u.columns} == {"name", "city"} for u in table.constraints
               if u.__class__.__name__ == "UniqueConstraint")
    indexed = {c.name for i in table.indexes for c in i.columns}
    assert {"city_key", "name_key", "price_range"} <= indexed
