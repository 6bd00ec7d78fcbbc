"""FindRestaurants: search restaurants by cuisine and city (SGD Restaurants_1).

The argument model below is the single definition of the tool: `agent.tools` generates the
JSON schema the model sees from it (field order, descriptions, enums, required fields).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import Cuisine, Restaurant, restaurant_cuisines
from backend.normalize import clean_text
from backend.tools.records import restaurant_record


class FindRestaurantsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tool_name: ClassVar[str] = "FindRestaurants"
    tool_description: ClassVar[str] = "Find a restaurant of a particular cuisine in a city"

    cuisine: str = Field(description="Cuisine of food served in the restaurant")
    city: str = Field(description="City in which the restaurant is located")
    price_range: Literal["inexpensive", "moderate", "expensive", "very expensive"] | None = Field(
        default=None, description="Price range for the restaurant"
    )
    has_live_music: Literal["True", "False"] | None = Field(
        default=None, description="Boolean flag indicating if the restaurant has live music"
    )
    serves_alcohol: Literal["True", "False"] | None = Field(
        default=None, description="Boolean flag indicating if the restaurant serves alcohol"
    )

    # Normalisers: they change no field of the schema above, only what values are accepted.
    @field_validator("cuisine", "city", mode="before")
    @classmethod
    def _clean(cls, value: object, info: ValidationInfo) -> object:
        return clean_text(value, info.field_name.replace("_", " ")) if isinstance(value, str) else value

    @field_validator("price_range", mode="before")
    @classmethod
    def _price(cls, value: object) -> object:
        if isinstance(value, str):
            text = " ".join(value.lower().replace("_", " ").split())
            return PRICE_SYNONYMS.get(text, text) or None
        return value

    @field_validator("has_live_music", "serves_alcohol", mode="before")
    @classmethod
    def _flag(cls, value: object) -> object:
        return normalize_flag(value)


# "affordable" is moderate, as SGD's annotators read it (bench/filter_coverage.py, agent.filters)
PRICE_SYNONYMS = {"cheap": "inexpensive", "low": "inexpensive", "affordable": "moderate",
                  "average": "moderate", "medium": "moderate", "mid": "moderate", "pricey": "expensive",
                  "high": "expensive", "high end": "very expensive", "luxury": "very expensive",
                  "ultra high-end": "very expensive"}  # SGD Restaurants_2's top price (train.restaurants_2)


def normalize_flag(value: object) -> object:
    """True/"true"/"yes"/1 → "True"; False/"false"/"no"/0 → "False"; "" → None."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int) and value in (0, 1):
        return "True" if value else "False"
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "yes", "y", "1"):
            return "True"
        if text in ("false", "no", "n", "0"):
            return "False"
        if not text:
            return None
    return value


def find_restaurants(session: Session, args: FindRestaurantsArgs, *, limit: int = 10) -> list[dict[str, str]]:
    """Restaurants of `args.cuisine` in `args.city` matching the optional filters, sorted by name
    the way SGD sorts its result lists (code-point order), at most `limit` (0: all)."""
    query = (
        select(Restaurant, Cuisine.name)
        .join(restaurant_cuisines, restaurant_cuisines.c.restaurant_id == Restaurant.id)
        .join(Cuisine, Cuisine.id == restaurant_cuisines.c.cuisine_id)
        .where(Cuisine.name_key == args.cuisine.lower(), Restaurant.city_key == args.city.lower())
    )
    if args.price_range is not None:
        query = query.where(Restaurant.price_range == args.price_range)
    if args.has_live_music is not None:
        query = query.where(Restaurant.has_live_music == (args.has_live_music == "True"))
    if args.serves_alcohol is not None:
        query = query.where(Restaurant.serves_alcohol == (args.serves_alcohol == "True"))
    # Sorted here rather than by ORDER BY: collations differ between databases, SGD's order is
    # plain code-point order, and a (cuisine, city) never matches more than a few hundred rows.
    rows = sorted(session.execute(query).all(), key=lambda row: row[0].name)
    if limit:
        rows = rows[:limit]
    return [restaurant_record(restaurant, cuisine) for restaurant, cuisine in rows]
