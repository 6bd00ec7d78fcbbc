"""The tool layer the agent calls: `execute(engine, name, arguments)`.

It never raises into the agent. Whatever goes wrong — an unknown tool, arguments that do not
fit the schema, an unknown restaurant, a database locked by another process — comes back as
`ToolOutcome(results=[{"error": "<a sentence the model can act on>"}], error=...)`, with nothing
written. Good calls return SGD-shaped result lists (see `backend.tools.records`).

Each call runs in its own transaction; a booking asks for the write lock up front and is retried
if a concurrent session took the same table first, so a slot is never overbooked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from backend.db import DatabaseBusyError, session_scope
from backend.tools.find_restaurants import FindRestaurantsArgs, find_restaurants
from backend.tools.reserve_restaurant import (
    ReserveRestaurantArgs,
    UnknownRestaurantError,
    reserve_restaurant,
)

DEFAULT_LIMIT = 10  # SGD returns at most 10 restaurants
_BOOKING_ATTEMPTS = 5


@dataclass
class ToolOutcome:
    """What a tool call produced: `results` is exactly what goes back to the model."""

    results: list[dict[str, Any]]
    error: str | None = None
    transient: bool = False  # the error was the database's (busy, contended), not the call's: retrying may work

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class _Tool:
    model: type[BaseModel]
    writes: bool
    run: Callable[..., list[dict[str, str]]]


TOOLS: dict[str, _Tool] = {
    "FindRestaurants": _Tool(
        FindRestaurantsArgs, False, lambda s, a, *, limit, session_id: find_restaurants(s, a, limit=limit)
    ),
    "ReserveRestaurant": _Tool(
        ReserveRestaurantArgs, True, lambda s, a, *, limit, session_id: reserve_restaurant(s, a, session_id=session_id)
    ),
}


def _failed(message: str, transient: bool = False) -> ToolOutcome:
    return ToolOutcome(results=[{"error": message}], error=message, transient=transient)


def explain_validation(name: str, exc: ValidationError) -> str:
    """One sentence listing every problem with the arguments, in words the model can act on."""
    problems = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "arguments"
        kind = err["type"]
        if kind == "missing":
            problems.append(f"missing required argument {field!r}")
        elif kind == "extra_forbidden":
            problems.append(f"unknown argument {field!r}")
        elif kind == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            got = str(err.get("input"))[:40]
            problems.append(f"{field} must be one of {expected} (got {got!r})")
        elif kind == "value_error":
            problems.append(str(err["msg"]).removeprefix("Value error, ").rstrip("."))
        elif kind.endswith("_type"):
            problems.append(f"{field} must be a string (got {type(err.get('input')).__name__})")
        else:
            problems.append(f"{field}: {err['msg']}")
    return f"Invalid arguments for {name}: " + "; ".join(problems) + "."


def execute(
    engine: Engine,
    name: str,
    arguments: Any,
    *,
    session_id: str | None = None,
    dry_run: bool = False,
    limit: int = DEFAULT_LIMIT,
) -> ToolOutcome:
    """Run tool `name` with `arguments` (a dict, or a JSON object string). `dry_run` runs the call
    but rolls its writes back; `limit` caps search results (0 = no cap)."""
    tool = TOOLS.get(name)
    if tool is None:
        return _failed(f"Unknown tool {name!r}; the available tools are {', '.join(TOOLS)}.")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            return _failed(f"The arguments of {name} are not valid JSON; send a JSON object.")
    if not isinstance(arguments, dict):
        return _failed(f"The arguments of {name} must be a JSON object, not {type(arguments).__name__}.")
    try:
        args = tool.model.model_validate(arguments)
    except ValidationError as exc:
        return _failed(explain_validation(name, exc))
    for attempt in range(_BOOKING_ATTEMPTS if tool.writes else 1):
        try:
            with session_scope(engine, write=tool.writes, commit=not dry_run) as session:
                results = tool.run(session, args, limit=limit, session_id=session_id)
            return ToolOutcome(results=results)
        except IntegrityError:
            # Another session booked the table we picked between our check and our insert
            # (possible on databases without SQLite's up-front write lock): look again.
            if attempt == _BOOKING_ATTEMPTS - 1:
                return _failed("The slot is in high demand and could not be booked; please try again.", True)
        except UnknownRestaurantError as exc:
            return _failed(str(exc))
        except DatabaseBusyError as exc:
            return _failed(str(exc), True)
        except SQLAlchemyError as exc:
            return _failed(f"The restaurant database failed ({type(exc).__name__}); nothing was changed.", True)
    return _failed("The call could not be completed; nothing was changed.")  # pragma: no cover


__all__ = ["DEFAULT_LIMIT", "TOOLS", "ToolOutcome", "execute", "explain_validation"]
