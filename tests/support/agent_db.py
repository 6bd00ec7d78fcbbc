"""Test helpers for the agent loop: a small real restaurant database and a scripted policy.

`small_db(path)` builds a real SQLite database with the project's schema (`backend.db.create_schema`)
and two restaurants inserted through the ORM, so tools run for real without the SGD build.
`ScriptedPolicy` plays raw model outputs (strings parsed exactly like a model's), exceptions, or
callables — for the loop's repair, apology and cancellation paths.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.parse import ToolCallParseError, parse_tool_call
from agent.policies.base import PolicyStep
from backend.db import create_schema, make_engine, session_scope

RESTAURANTS = [
    {
        "name": "Mimi's Cafe",
        "city": "Fairfield",
        "cuisine": "Breakfast",
        "price_range": "moderate",
        "has_live_music": False,
        "serves_alcohol": True,
        "phone_number": "707-421-0835",
        "street_address": "1650 Gateway Boulevard",
    },
    {
        "name": "Thai Orchid",
        "city": "San Jose",
        "cuisine": "Thai",
        "price_range": "inexpensive",
        "has_live_music": False,
        "serves_alcohol": False,
        "phone_number": "408-555-0101",
        "street_address": "12 Market Street",
    },
]


def small_db(path: Path):
    """A real SQLite restaurant database with RESTAURANTS in it; returns the engine."""
    from backend.models import Cuisine, Restaurant

    engine = make_engine(path)
    create_schema(engine)
    with session_scope(engine) as db:
        for row in RESTAURANTS:
            cuisine = Cuisine(name=row["cuisine"], name_key=row["cuisine"].lower())
            db.add(
                Restaurant(
                    **row,
                    name_key=row["name"].lower(),
                    city_key=row["city"].lower(),
                    cuisines=[cuisine],
                )
            )
    return engine


Script = str | BaseException | Callable[[list[dict], threading.Event | None], str]


class ScriptedPolicy:
    """Returns its outputs in order (raw text parsed like a model's output; an exception is raised;
    a callable gets (messages, cancel) and returns raw text). Records every history it was shown."""

    description = "scripted test policy"

    def __init__(self, outputs: list[Script]):
        self.outputs = list(outputs)
        self.seen: list[list[dict[str, Any]]] = []

    def next_call(self, messages, *, on_text=None, cancel=None) -> PolicyStep:
        self.seen.append([dict(m) for m in messages])
        if not self.outputs:
            raise AssertionError("ScriptedPolicy ran out of outputs")
        item = self.outputs.pop(0)
        if isinstance(item, BaseException):
            raise item
        raw = item(messages, cancel) if callable(item) else item
        try:
            call = parse_tool_call(raw)
        except ToolCallParseError as exc:
            return PolicyStep(raw_text=raw, error=exc.reason, prompt_tokens=10, completion_tokens=5)
        if on_text is not None and call.message:
            on_text(call.message)
        return PolicyStep(raw_text=raw, call=call, prompt_tokens=10, completion_tokens=5, latency_s=0.01)
