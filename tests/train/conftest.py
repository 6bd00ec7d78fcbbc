"""Fixtures for the training tests: small hand-written conversations and a short render config
(a one-line system prompt and no tool schemas) so tiny-model training steps take milliseconds."""

from __future__ import annotations

import pytest

from agent.conversation import ToolCall, user_message
from agent.render import RenderConfig
from agent.trace_io import Trace


def conversation(city: str, cuisine: str, name: str) -> list[dict]:
    results = [{"restaurant_name": name, "city": city, "cuisine": cuisine}]
    import json

    return [
        user_message(f"I want {cuisine} food in {city}"),
        ToolCall("FindRestaurants", {"city": city, "cuisine": cuisine}).to_message(),
        user_message(json.dumps(results)),
        ToolCall("respond_to_user", {"message": f"How about {name}?"}).to_message(),
        user_message("Book it for 7 pm"),
        ToolCall("ReserveRestaurant", {"restaurant_name": name, "city": city, "time": "19:00"}).to_message(),
        user_message(json.dumps([{**results[0], "time": "19:00"}])),
        ToolCall("respond_to_user", {"message": "Your table is booked."}).to_message(),
    ]


@pytest.fixture(scope="session")
def small_traces() -> list[Trace]:
    rows = [("Fairfield", "Breakfast", "Mimi's Cafe"), ("San Jose", "Italian", "Tony's"),
            ("Oakland", "Mexican", "La Casa"), ("Berkeley", "Thai", "Thai Basil")]
    return [Trace(conversation(*row)) for row in rows]


@pytest.fixture(scope="session")
def short_render() -> RenderConfig:
    return RenderConfig(system_template="Call one tool.", task_description="")
