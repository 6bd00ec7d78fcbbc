"""Normalising what users and models write into SGD's formats.

- times → "HH:MM" (24 h): "7 pm", "7:30pm", "19:00", "1930", "half past 6", "quarter to 8",
  "noon", "six thirty", "7 in the evening". A bare hour 1–9 without am/pm means the evening
  (restaurants: "at 7" is 19:00); 10 and 11 mean the morning; 12 means noon.
- dates → "YYYY-MM-DD" relative to SGD's today, 2019-03-01 (a Friday): "today", "tomorrow",
  "day after tomorrow", "March 3rd", "3rd of March", "3/5" (month/day), "2019-03-05",
  "Friday"/"this Friday" (the next such day, today included), "next Friday" (strictly after today).
- party sizes → "1".."6": 2, "2", "two", "2 people", "a party of 4".
- free text (names, cities, cuisines) → stripped; too long or code-like input is refused.

Every function raises `ValueError` with a sentence the model can read and act on.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

SGD_TODAY = date(2019, 3, 1)
MAX_TEXT = 100

_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a": 1, "an": 1, "single": 1, "couple": 2,
}
_MINUTE_WORDS = {"fifteen": 15, "thirty": 30, "forty five": 45, "forty-five": 45, "o'clock": 0, "oclock": 0}
_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"], start=1)}
_MONTHS.update({name[:3]: i for name, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
# Characters that never occur in SGD names, cities or cuisines but do in SQL or markup.
_CODE_LIKE = re.compile(r"(;|--|/\*|\*/|\\|[<>=`{}\[\]]|[\x00-\x1f])")


def clean_text(value: str, what: str) -> str:
    text = " ".join(str(value).split())
    if not text:
        raise ValueError(f"{what} is empty.")
    if len(text) > MAX_TEXT:
        raise ValueError(f"{what} is too long ({len(text)} characters; at most {MAX_TEXT}).")
    if _CODE_LIKE.search(str(value)):
        raise ValueError(f"{what} {text[:40]!r} contains characters that cannot be part of a {what.lower()}.")
    return text


def _word_number(token: str) -> int | None:
    token = token.strip().lower()
    if token.isdigit():
        return int(token)
    return _NUMBERS.get(token)


def normalize_time(value: str) -> str:
    raw = " ".join(str(value).lower().replace(".", "").split())
    if not raw:
        raise ValueError("time is empty; give a time like '19:00' or '7 pm'.")
    text = raw.replace("in the evening", "pm").replace("in the afternoon", "pm").replace("tonight", "pm")
    text = text.replace("in the morning", "am").replace("at night", "pm").replace("evening", "pm")
    text = re.sub(r"\b(at|around|about|for|by)\b", " ", text).strip()
    if text in ("noon", "midday", "12 noon"):
        return "12:00"
    if text == "midnight":
        return "00:00"
    words = "|".join(list(_NUMBERS) + [str(i) for i in range(1, 13)])
    relative = re.fullmatch(rf"(half|quarter|(\d+) minutes?) (past|after|to) ({words})\s*(am|pm)?", text)
    if relative:
        minutes = 30 if relative.group(1) == "half" else 15 if relative.group(1) == "quarter" else int(relative.group(2))
        hour = _word_number(relative.group(4))
        total = _to_24h(hour, relative.group(5), raw) * 60 + (minutes if relative.group(3) != "to" else -minutes)
        return f"{total // 60 % 24:02d}:{total % 60:02d}"
    for name, minutes in _MINUTE_WORDS.items():
        text = re.sub(rf"(\b[a-z]+\b|\d+) {re.escape(name)}", rf"\1:{minutes:02d}", text)
    match = re.fullmatch(r"([a-z]+|\d{1,2})(?:(?::|h)?(\d{2}))?\s*(am|pm|a m|p m)?", text)
    if not match:
        compact = re.fullmatch(r"(\d{1,2})(\d{2})", text)  # "1930"
        if compact:
            match = re.fullmatch(r"(\d{1,2}):(\d{2})()", f"{compact.group(1)}:{compact.group(2)}")
    if not match:
        raise ValueError(f"time {value!r} is not a time I understand; use 'HH:MM' like '19:00'.")
    hour = _word_number(match.group(1))
    minute = int(match.group(2) or 0)
    if hour is None:
        raise ValueError(f"time {value!r} is not a time I understand; use 'HH:MM' like '19:00'.")
    if hour > 23 or minute > 59:
        raise ValueError(f"time {value!r} is not a valid time of day; use 'HH:MM' like '19:00'.")
    suffix = (match.group(3) or "").replace(" ", "") or None
    return f"{_to_24h(hour, suffix, raw):02d}:{minute:02d}"


def _to_24h(hour: int | None, suffix: str | None, raw: str) -> int:
    if hour is None or hour > 23:
        raise ValueError(f"time {raw!r} is not a valid time of day; use 'HH:MM' like '19:00'.")
    if suffix == "pm":
        return hour if hour == 12 else hour + 12 if hour < 12 else hour
    if suffix == "am":
        return 0 if hour == 12 else hour
    if 1 <= hour <= 9:  # "at 7" for dinner means 19:00
        return hour + 12
    return hour


def normalize_date(value: str, today: date = SGD_TODAY) -> str:
    text = " ".join(str(value).lower().replace(",", " ").split())
    text = re.sub(r"\b(on|the|of)\b", " ", text)
    text = " ".join(text.split())
    if not text:
        raise ValueError("date is empty; give a date like '2019-03-05' or 'tomorrow'.")
    if text in ("today", "tonight", "this evening", "now"):
        return today.isoformat()
    if text == "tomorrow":
        return (today + timedelta(days=1)).isoformat()
    if text in ("day after tomorrow", "after tomorrow"):
        return (today + timedelta(days=2)).isoformat()
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text):
        return _checked(int(m.group(1)), int(m.group(2)), int(m.group(3)), value, today)
    if m := re.fullmatch(r"(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?", text):
        year = int(m.group(3)) if m.group(3) else today.year
        return _checked(year + 2000 if year < 100 else year, int(m.group(1)), int(m.group(2)), value, today)
    if m := re.fullmatch(r"(this |next |coming )?([a-z]+)", text):
        if m.group(2) in _WEEKDAYS:
            ahead = (_WEEKDAYS.index(m.group(2)) - today.weekday()) % 7
            if m.group(1) in ("next ",) and ahead == 0:
                ahead = 7
            return (today + timedelta(days=ahead)).isoformat()
    day_re = r"(\d{1,2})(?:st|nd|rd|th)?"
    if m := re.fullmatch(rf"([a-z]+) {day_re}(?: (\d{{4}}))?", text):
        month = _MONTHS.get(m.group(1))
        if month:
            return _checked(int(m.group(3) or today.year), month, int(m.group(2)), value, today)
    if m := re.fullmatch(rf"{day_re} ([a-z]+)(?: (\d{{4}}))?", text):
        month = _MONTHS.get(m.group(2))
        if month:
            return _checked(int(m.group(3) or today.year), month, int(m.group(1)), value, today)
    if m := re.fullmatch(day_re, text):  # "the 5th": this month
        return _checked(today.year, today.month, int(m.group(1)), value, today)
    raise ValueError(f"date {value!r} is not a date I understand; use 'YYYY-MM-DD' like '2019-03-05'.")


def _checked(year: int, month: int, day: int, raw: str, today: date) -> str:
    try:
        result = date(year, month, day)
    except ValueError:
        raise ValueError(f"date {raw!r} does not exist; use 'YYYY-MM-DD' like '2019-03-05'.") from None
    if result < today:
        raise ValueError(f"date {raw!r} is in the past (today is {today.isoformat()}).")
    return result.isoformat()


def normalize_party_size(value: object) -> object:
    """2, "2", "two", "2 people", "party of 4" → "2"/"4"; anything else is returned unchanged for
    the argument model to reject with its list of allowed values."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    m = re.fullmatch(r"(?:a )?(?:party|table|group) (?:of|for) (\w+)(?: people| persons| guests)?", text) or \
        re.fullmatch(r"(\w+)(?: people| persons| person| guests| of us| pax)?", text)
    if m:
        number = _word_number(m.group(1))
        if number is not None:
            return str(number)
    return value
