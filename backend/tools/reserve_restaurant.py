"""ReserveRestaurant: book a table (SGD Restaurants_1).

The argument model below is the single definition of the tool: `agent.tools` generates the
JSON schema the model sees from it (field order, descriptions, enums, required fields).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Reservation, Restaurant, SlotOutcome, policy
from backend.normalize import clean_text, normalize_date, normalize_party_size, normalize_time
from backend.tools.records import reservation_record

DEFAULT_DATE = "2019-03-01"  # SGD's "today"
DEFAULT_PARTY_SIZE = "2"


class ReserveRestaurantArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tool_name: ClassVar[str] = "ReserveRestaurant"
    tool_description: ClassVar[str] = "Reserve a table at a restaurant"

    restaurant_name: str = Field(description="Name of the restaurant")
    city: str = Field(description="City in which the restaurant is located")
    time: str = Field(description="Time for the reservation or to find availability")
    date: str | None = Field(default=None, description="Date for the reservation or to find availability")
    party_size: Literal["1", "2", "3", "4", "5", "6"] | None = Field(
        default=None, description="Party size for a reservation"
    )

    # Normalisers: they change no field of the schema above, only what values are accepted.
    @field_validator("restaurant_name", "city", mode="before")
    @classmethod
    def _clean(cls, value: object, info: ValidationInfo) -> object:
        what = "restaurant name" if info.field_name == "restaurant_name" else "city"
        return clean_text(value, what) if isinstance(value, str) else value

    @field_validator("time", mode="before")
    @classmethod
    def _time(cls, value: object) -> object:
        return normalize_time(value) if isinstance(value, str) else value

    @field_validator("date", mode="before")
    @classmethod
    def _date(cls, value: object) -> object:
        if isinstance(value, str):
            return normalize_date(value) if value.strip() else None
        return value

    @field_validator("party_size", mode="before")
    @classmethod
    def _party(cls, value: object) -> object:
        return normalize_party_size(value)


class UnknownRestaurantError(ValueError):
    """The named restaurant is not in the database (the message says what to do)."""


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _recorded(session: Session, restaurant_id: int, date: str, time: str, party: int) -> SlotOutcome | None:
    """SGD's outcome for this exact slot; else an unavailable outcome recorded for the same slot
    and a smaller party (a table too small for 3 is too small for 4); else None."""
    rows = session.scalars(
        select(SlotOutcome).where(
            SlotOutcome.restaurant_id == restaurant_id, SlotOutcome.date == date, SlotOutcome.time == time
        )
    ).all()
    exact = [r for r in rows if r.party_size == party]
    if exact:
        return exact[0]
    smaller = [r for r in rows if not r.available and r.party_size < party]
    return min(smaller, key=lambda r: r.party_size) if smaller else None


def _free_table(session: Session, restaurant_id: int, date: str, time: str, capacity: int) -> int | None:
    taken = set(
        session.scalars(
            select(Reservation.table_number).where(
                Reservation.restaurant_id == restaurant_id,
                Reservation.date == date,
                Reservation.time == time,
                Reservation.table_number.is_not(None),
            )
        )
    )
    return next((n for n in range(1, capacity + 1) if n not in taken), None)


def _bookable(
    session: Session, restaurant_id: int, date: str, time: str, party: int, default_capacity: int,
    outcome: SlotOutcome | None = None,
) -> int | None:
    """The free table number for this slot, or None when SGD says no or every table is taken."""
    outcome = outcome or _recorded(session, restaurant_id, date, time, party)
    if outcome is not None and not outcome.available:
        return None
    capacity = outcome.capacity if outcome is not None and outcome.capacity else default_capacity
    return _free_table(session, restaurant_id, date, time, capacity)


def reserve_restaurant(
    session: Session, args: ReserveRestaurantArgs, *, session_id: str | None = None
) -> list[dict[str, str]]:
    """Book a table. Returns, like SGD: `[booked record]` on success; `[record of another slot]`
    when the asked slot is not available but one nearby is (nothing is booked: the user confirms
    and the model calls again with that time); `[]` when nothing is available."""
    restaurant = session.scalar(
        select(Restaurant).where(
            Restaurant.name_key == args.restaurant_name.lower(), Restaurant.city_key == args.city.lower()
        )
    )
    if restaurant is None:
        raise UnknownRestaurantError(
            f"There is no restaurant named {args.restaurant_name!r} in {args.city!r}; "
            "use FindRestaurants to look up the exact name and city first."
        )
    date = args.date or DEFAULT_DATE
    party = int(args.party_size or DEFAULT_PARTY_SIZE)
    rules = policy(session)
    outcome = _recorded(session, restaurant.id, date, args.time, party)
    if outcome is not None and not outcome.available:
        if outcome.alternative_time:  # what SGD offered instead
            return [reservation_record(restaurant, date=date, time=outcome.alternative_time, party_size=party)]
        return []
    table = _bookable(session, restaurant.id, date, args.time, party, rules["default_slot_capacity"], outcome)
    if table is None:  # full: offer the nearest slot that still has a table, as SGD does
        start, window = _minutes(args.time), rules["alternative_window_minutes"]
        for delta in sorted(range(-window, window + 1, 15), key=lambda d: (abs(d), d)):
            when = start + delta
            if delta == 0 or not 0 <= when < 24 * 60:
                continue
            if _bookable(session, restaurant.id, date, _hhmm(when), party, rules["default_slot_capacity"]):
                return [reservation_record(restaurant, date=date, time=_hhmm(when), party_size=party)]
        return []
    session.add(
        Reservation(
            restaurant_id=restaurant.id, date=date, time=args.time, party_size=party,
            status="confirmed", table_number=table, session_id=session_id,
        )
    )
    session.flush()  # a concurrent booking of the same table fails here (unique constraint)
    return [reservation_record(restaurant, date=date, time=args.time, party_size=party)]
