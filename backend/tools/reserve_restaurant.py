"""ReserveRestaurant: book a table (SGD Restaurants_1).

The argument model below is the single definition of the tool: `agent.tools` generates the
JSON schema the model sees from it (field order, descriptions, enums, required fields).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

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
