"""Grounded argument values: a restaurant, city, cuisine, time, date or party size the conversation gave, never an invented one.

    gazetteer = Gazetteer.from_database(engine)        # the names the restaurant database knows
    values = gazetteer.candidates(messages)           # {"city": ["Santa Rosa"], "time": ["19:30"], ...}
    checker = grounded_checker(tool_schemas(), values)  # agent.guided: those keys may only take these

A small model trained from scratch does not copy from its context: the demo model books
`city: "San Francisco"` and a restaurant name it makes up ("Ampollue Ms") whatever the user said
(`resto eval tasks` on the demo model: 0 of the 30 booking tasks reach their goal). Guided decoding
with grounding (`--grounded`) lets the model choose, token by token and best-ranked first, only
among the values the conversation holds:
- `restaurant_name`, `city`, `cuisine`: every value of the key in a tool result of this conversation,
  and every name the database knows for the key (`Gazetteer`) that the user's words contain as whole
  words, case-insensitively ("I would like Santa Rosa."); a name is also found by its part before
  " - " ("Coupa Cafe" for "Coupa Cafe - Ramona");
- `time`, `date`, `party_size`: the phrases of the user's words that carry a time, date or party cue,
  in the tools' formats (`backend.normalize`: "half past 6 in the evening" → "18:30", "next Monday" →
  "2019-03-04", "a group of four" → "4"), and the values in tool results. Only the latest message
  that gives any counts: "no, make it 8 pm" replaces the 7 pm said before;
- `date` when nobody gave one: today, the tool's own default;
- FindRestaurants' filters (`price_range`, `has_live_music`, `serves_alcohol`): what the user's words
  ask for (agent.filters: "somewhere affordable" → moderate), the latest word winning ("any price is
  fine" lifts it). Unlike the keys above, a filter key is written exactly when it is grounded
  (`grounded_checker`): a search carries the filters the user asked for and no other, because a filter
  nobody asked for hides restaurants. Tool results never ground a filter: every restaurant record has
  a price range, which is no reason to search by it.

The assistant's own messages and calls ground nothing. In a live chat they are the model's output, and
a city it made up in one turn ("…in San Francisco") would otherwise become an allowed value in the
next. On the benchmark they add nothing either (README, grounded decoding: v1 vs v2).

A key with no candidate stays a free string (an enum key: its enum), so a user who names a city the
database lacks can still be searched for (and told it has nothing).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from agent.filters import FILTER_KEYS, spoken_filters
from agent.guided import CallChecker

# what the --grounded flags say they do (resto chat / replay / eval run / eval tasks)
HELP = ("restaurant names, cities, cuisines, times, dates and party sizes only as the conversation gives them, "
        "and the search filters the user asked for")
GROUNDED_KEYS = ("restaurant_name", "city", "cuisine", "time", "date", "party_size")
LATEST_KEYS = ("time", "date", "party_size")  # the user's latest word on them wins (a correction)
MAX_PHRASE = 6  # words in a time, date or party phrase ("half past 6 in the evening")
_TIME_CUE = re.compile(r"\d:\d\d|\b(am|pm|a\.m|p\.m|noon|midnight|morning|evening|afternoon|tonight|half|quarter|o'clock)\b")
_DATE_CUE = re.compile(
    r"\b(today|tonight|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday|jan(uary)?|feb(ruary)?|"
    r"march|mar|april|apr|may|june|jun|july|jul|aug(ust)?|sep(t|tember)?|oct(ober)?|nov(ember)?|dec(ember)?|"
    r"\d{1,2}(st|nd|rd|th))\b|\d/\d"
)
_PARTY_CUE = re.compile(r"\b(people|persons?|guests|of us|pax|party of|group of|table for)\b")


def _load(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            return None
    return value


def records(content: Any) -> Iterable[dict]:
    """The JSON objects of a tool result (a list of records, one record, or neither)."""
    data = _load(content)
    if isinstance(data, dict):
        data = [data]
    if isinstance(data, list):
        yield from (row for row in data if isinstance(row, dict))


def phrases(text: str, cue: re.Pattern, parse) -> list[str]:
    """What `parse` makes of the phrases of `text` that carry `cue`: left to right, the longest phrase
    (up to MAX_PHRASE words) starting at each word that parses, then on after it."""
    words = re.findall(r"[\w:'./-]+", text.lower())
    words = [w.rstrip(".") or w for w in words]
    found: list[str] = []
    i = 0
    while i < len(words):
        for n in range(min(MAX_PHRASE, len(words) - i), 0, -1):
            phrase = " ".join(words[i : i + n])
            if not cue.search(phrase):
                continue
            try:
                value = parse(phrase)
            except ValueError:
                continue
            found.append(value)
            i += n - 1
            break
        i += 1
    return found


def _times(text: str) -> list[str]:
    from backend.normalize import normalize_time

    return phrases(text, _TIME_CUE, normalize_time)


def _dates(text: str) -> list[str]:
    from backend.normalize import normalize_date

    return phrases(text, _DATE_CUE, normalize_date)


def _party_sizes(text: str) -> list[str]:
    from backend.normalize import normalize_party_size

    def parse(phrase: str) -> str:
        value = normalize_party_size(phrase)
        if not (isinstance(value, str) and value.isdigit()):
            raise ValueError(phrase)
        return value

    return phrases(text, _PARTY_CUE, parse)


SPOKEN = {"time": _times, "date": _dates, "party_size": _party_sizes}


def _today() -> str:
    from backend.normalize import normalize_date

    return normalize_date("today")


def grounded_checker(tools: Any, values: Mapping[str, Any]) -> CallChecker:
    """The guided-decoding checker for one conversation's grounded `values`: grounded keys take only
    those values, and each filter key is written exactly when the conversation grounds it."""
    return CallChecker(tools, values=values, filters=FILTER_KEYS)


def chain(name: str) -> str:
    """A restaurant's name without its branch ("Coupa Cafe - Ramona" → "Coupa Cafe")."""
    return name.split(" - ")[0].strip()


def policy_gazetteer(policy: Any) -> Gazetteer | None:
    """The database names a grounded policy already read (`policy.grounding`), to share rather than read
    again (the chat loop's and the replay's made-up-name checks); None for other policies."""
    shared = getattr(policy, "grounding", None)
    return shared if isinstance(shared, Gazetteer) else None


@lru_cache(maxsize=4096)
def _whole(form: str) -> re.Pattern:
    """`form` as a whole word (not inside a longer one)."""
    return re.compile(rf"(?<!\w){re.escape(form)}(?!\w)")


@dataclass
class Gazetteer:
    """The names each grounded key may take, e.g. {"city": ["Alameda", …], …}."""

    names: Mapping[str, Iterable[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # a name is matched whole, and by its part before " - " ("Coupa Cafe" for "Coupa Cafe - Ramona")
        self._forms: dict[str, list[tuple[str, str, str]]] = {
            key: [
                (form.lower(), form, n)
                for n in sorted(set(names))
                if n.strip()
                for form in dict.fromkeys([n, chain(n)])
                if len(form) >= 4
            ]
            for key, names in self.names.items()
        }

    @classmethod
    def from_database(cls, engine: Any) -> Gazetteer:
        from sqlalchemy import select

        from backend.db import session_scope
        from backend.models import Cuisine, Restaurant

        with session_scope(engine) as session:
            rows = session.execute(select(Restaurant.name, Restaurant.city)).all()
            cuisines = session.scalars(select(Cuisine.name)).all()
        return cls({"restaurant_name": [r[0] for r in rows], "city": [r[1] for r in rows], "cuisine": list(cuisines)})

    @classmethod
    def from_url(cls, url: str | Any) -> Gazetteer:
        """The names of the restaurant database at `url` (a URL or SQLite path), or a UserError saying
        to build it first or that it cannot be read; the engine is closed again."""
        from sqlalchemy.exc import SQLAlchemyError

        from backend.errors import UserError
        from backend.sgd_builder import existing_database

        engine = existing_database(url)
        try:
            return cls.from_database(engine)
        except SQLAlchemyError as exc:
            raise UserError(f"{url} could not be read ({type(exc).__name__}).") from None
        finally:
            engine.dispose()

    def mentioned(self, key: str, text: str, *, case_sensitive: bool = False) -> list[str]:
        """The names of `key` that `text` contains as whole words (case-insensitive, unless
        `case_sensitive`: then only as the database writes them, "Gather" but not "gather")."""
        if not case_sensitive:
            text = text.lower()
        # the substring test first: a database has thousands of names and a message holds a few, so
        # only those get a (cached) word-boundary pattern, and building a gazetteer compiles nothing
        return list(dict.fromkeys(
            name
            for lower, form, name in self._forms.get(key, ())
            if (found := form if case_sensitive else lower) in text and _whole(found).search(text)
        ))

    def candidates(
        self, messages: list[dict[str, Any]], keys: Iterable[str] = (*GROUNDED_KEYS, *FILTER_KEYS)
    ) -> dict[str, list[str]]:
        """For each key, the values this conversation grounds (see the module docstring); keys without
        any are left out. Only the user's messages and tool results count: the assistant's own words and
        calls are the model's, and in a live chat a value it made up must not ground itself. The
        filters come from the user's words only, the latest word on each winning."""
        keys = list(keys)
        # dicts keep first-seen order
        found: dict[str, dict[str, None]] = {key: {} for key in keys if key not in FILTER_KEYS}
        filters: dict[str, str | None] = {}
        wants_filters = any(key in FILTER_KEYS for key in keys)  # the reply name check asks for names only
        for message in messages:
            content = message.get("content")
            if message.get("role") not in ("user", "tool") or not isinstance(content, str) or not content:
                continue
            here: dict[str, dict[str, None]] = {key: {} for key in found}
            rows = list(records(content))
            for record in rows:
                for key in here:
                    if isinstance(record.get(key), str):
                        here[key][record[key]] = None
            if not rows:
                if message["role"] == "user" and wants_filters:
                    filters.update(spoken_filters(content))
                for key in here:
                    for value in SPOKEN[key](content) if key in SPOKEN else self.mentioned(key, content):
                        here[key][value] = None
            for key, values in here.items():
                if values and key in LATEST_KEYS:
                    found[key] = values  # a later mention replaces the earlier ones
                else:
                    found[key].update(values)
        if "date" in found and not found["date"]:
            found["date"] = {_today(): None}  # no date given: the tool's own default, today
        grounded = {key: list(values) for key, values in found.items() if values}
        return grounded | {key: [value] for key, value in filters.items() if value is not None and key in keys}
