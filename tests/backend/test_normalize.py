"""backend.normalize: the time, date and party-size formats users and models produce."""

from __future__ import annotations

import pytest

from backend.normalize import clean_text, normalize_date, normalize_party_size, normalize_time


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("7 pm", "19:00"), ("7:30pm", "19:30"), ("19:00", "19:00"), ("half past 6", "18:30"),
     ("quarter to 8", "19:45"), ("quarter past 12 pm", "12:15"), ("noon", "12:00"), ("six thirty", "18:30"),
     ("7 in the evening", "19:00"), ("1930", "19:30"), ("11:30 am", "11:30"), ("12 pm", "12:00"),
     ("5:45 p.m.", "17:45"), ("at 6", "18:00"), ("10:30", "10:30"), ("seven fifteen pm", "19:15"),
     ("11", "11:00"), ("12 am", "00:00")],
)
def test_times(raw, expected):
    assert normalize_time(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("today", "2019-03-01"), ("tomorrow", "2019-03-02"), ("day after tomorrow", "2019-03-03"),
     ("March 3rd", "2019-03-03"), ("3rd of March", "2019-03-03"), ("march 13", "2019-03-13"),
     ("Friday", "2019-03-01"), ("next Friday", "2019-03-08"), ("this Saturday", "2019-03-02"),
     ("sunday", "2019-03-03"), ("2019-03-05", "2019-03-05"), ("3/5", "2019-03-05"), ("the 5th", "2019-03-05"),
     ("April 2, 2019", "2019-04-02")],
)
def test_dates(raw, expected):
    assert normalize_date(raw) == expected


@pytest.mark.parametrize("raw", ["25:00", "blah", "", "7:75"])
def test_bad_times(raw):
    with pytest.raises(ValueError, match="time"):
        normalize_time(raw)


@pytest.mark.parametrize(("raw", "message"), [("2019-02-01", "in the past"), ("February 30", "does not exist"),
                                              ("someday", "not a date")])
def test_bad_dates(raw, message):
    with pytest.raises(ValueError, match=message):
        normalize_date(raw)


@pytest.mark.parametrize(("raw", "expected"), [(2, "2"), ("two", "2"), ("2 people", "2"), ("party of 4", "4"),
                                               ("Four", "4"), (3.0, "3"), ("40", "40"), (True, True)])
def test_party_sizes(raw, expected):
    assert normalize_party_size(raw) == expected


def test_clean_text_refuses_long_and_code_like_input():
    assert clean_text("  San   Jose ", "city") == "San Jose"
    with pytest.raises(ValueError, match="too long"):
        clean_text("x" * 10_000, "city")
    with pytest.raises(ValueError, match="cannot be part"):
        clean_text("x'; DROP TABLE restaurants;--", "city")
