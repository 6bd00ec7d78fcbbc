"""The restaurant database as typed ORM classes (SQLAlchemy 2.0 style).

- `Restaurant`: one row per (name, city) seen in SGD `service_results`; `cuisine` is the primary
  cuisine (shown in booking records); `cuisines` holds every cuisine SGD listed it under.
- `SlotOutcome`: what SGD recorded when someone tried to book (restaurant, date, time, party size):
  available, or not (with the alternative time SGD offered, if any). Slots SGD says nothing about
  are available up to `BookingPolicy.default_slot_capacity` bookings (see `backend.booking`).
- `Reservation`: bookings made through the tools. `table_number` (1..capacity) is unique per slot,
  so even a database without SQLite's write lock can never hold more bookings than tables.
- `BookingPolicy`: the project's reference data (also inserted by `seed_db.sql`).

`seed_db.sql` creates exactly these tables for SQLite; a test checks that both agree.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from backend.db import Base

DEFAULT_POLICY = {"default_slot_capacity": 3, "alternative_window_minutes": 30}

restaurant_cuisines = Table(
    "restaurant_cuisines",
    Base.metadata,
    Column("restaurant_id", ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True),
    Column("cuisine_id", ForeignKey("cuisines.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_restaurant_cuisines_cuisine", "cuisine_id"),
)


class Cuisine(Base):
    __tablename__ = "cuisines"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # Lower-case copy for case-insensitive search that uses an index on every database.
    name_key: Mapped[str] = mapped_column(String(64), unique=True)


class Restaurant(Base):
    __tablename__ = "restaurants"
    __table_args__ = (
        UniqueConstraint("name", "city", name="uq_restaurants_name_city"),
        Index("ix_restaurants_city_key", "city_key"),
        Index("ix_restaurants_name_key_city_key", "name_key", "city_key"),
        Index("ix_restaurants_price_range", "price_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    city: Mapped[str] = mapped_column(String(64))
    name_key: Mapped[str] = mapped_column(String(128))
    city_key: Mapped[str] = mapped_column(String(64))
    cuisine: Mapped[str] = mapped_column(String(64))
    price_range: Mapped[str] = mapped_column(String(16))
    has_live_music: Mapped[bool] = mapped_column(Boolean)
    serves_alcohol: Mapped[bool] = mapped_column(Boolean)
    phone_number: Mapped[str] = mapped_column(String(32))
    street_address: Mapped[str] = mapped_column(String(128))

    cuisines: Mapped[list[Cuisine]] = relationship(secondary=restaurant_cuisines)


class SlotOutcome(Base):
    __tablename__ = "slot_outcomes"
    __table_args__ = (
        UniqueConstraint("restaurant_id", "date", "time", "party_size", name="uq_slot_outcomes_slot"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    restaurant_id: Mapped[int] = mapped_column(ForeignKey("restaurants.id", ondelete="CASCADE"))
    date: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD, as SGD writes it
    time: Mapped[str] = mapped_column(String(5))  # HH:MM
    party_size: Mapped[int] = mapped_column(Integer)
    available: Mapped[bool] = mapped_column(Boolean)
    alternative_time: Mapped[str | None] = mapped_column(String(5), nullable=True)
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: the policy default
    source: Mapped[str] = mapped_column(String(32))  # SGD dialogue id the outcome came from


class Reservation(Base):
    __tablename__ = "reservations"
    __table_args__ = (
        UniqueConstraint("restaurant_id", "date", "time", "table_number", name="uq_reservations_table"),
        Index("ix_reservations_slot", "restaurant_id", "date", "time"),
        Index("ix_reservations_session", "session_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    restaurant_id: Mapped[int] = mapped_column(ForeignKey("restaurants.id", ondelete="RESTRICT"))
    date: Mapped[str] = mapped_column(String(10))
    time: Mapped[str] = mapped_column(String(5))
    party_size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="confirmed")  # confirmed | cancelled
    table_number: Mapped[int | None] = mapped_column(Integer, nullable=True)  # NULL once cancelled
    created_at: Mapped[datetime] = mapped_column(DateTime, default=lambda: datetime.now(UTC).replace(tzinfo=None))
    # The agent session that booked it; a plain string on purpose (no FK into the session log).
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)

    restaurant: Mapped[Restaurant] = relationship(lazy="joined")


class BookingPolicy(Base):
    __tablename__ = "booking_policy"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


def insert_reference_data(session: Session) -> None:
    """The project's own reference rows (same as the INSERTs in seed_db.sql); idempotent."""
    for key, value in DEFAULT_POLICY.items():
        if session.get(BookingPolicy, key) is None:
            session.add(BookingPolicy(key=key, value=value))


def policy(session: Session) -> dict[str, int]:
    values = dict(DEFAULT_POLICY)
    for row in session.scalars(select(BookingPolicy)):
        values[row.key] = row.value
    return values
