"""FindRestaurants: search restaurants by cuisine and city (SGD Restaurants_1).

The argument model below is the single definition of the tool: `agent.tools` generates the
JSON schema the model sees from it (field order, descriptions, enums, required fields).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


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
