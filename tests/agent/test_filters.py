"""agent.filters: the search filters a user's words ask for, and the questions that ask for none."""

from __future__ import annotations

import pytest

from agent.filters import spoken_filters


@pytest.mark.parametrize(
    ("text", "said"),
    [
        # SGD's annotators: "affordable", "reasonably priced", "not very costly" are moderate
        ("Something affordable, please.", {"price_range": "moderate"}),
        ("I want something not very costly priced", {"price_range": "moderate"}),
        ("I want a good place to eat that is fancy priced", {"price_range": "expensive"}),
        ("Find me something in Pleasanton that is priced above average.", {"price_range": "expensive"}),
        ("San Bruno, I am looking for low priced, Taiwanese food.", {"price_range": "inexpensive"}),
        ("Somewhere very expensive, it's a special night.", {"price_range": "very expensive"}),
        ("I don't have a price preference.", {"price_range": None}),  # lifted, not set
        ("Please search in San Mateo, price is not an issue.", {"price_range": None}),
        ("I want somewhere that has live music.", {"has_live_music": "True"}),
        ("I want a place that serves booze.", {"serves_alcohol": "True"}),
        (
            "I am looking for an inexpensive place to eat that has live music.",
            {"price_range": "inexpensive", "has_live_music": "True"},
        ),
        ("I'd like to get some Middle eastern food in Oakland.", {}),
        ("I fancy Japanese food.", {}),  # the verb, not the price
        ("I don't want live music.", {}),
    ],
)
def test_wishes_become_filters(text, said):
    assert spoken_filters(text) == said


@pytest.mark.parametrize(
    "text",
    [
        "Do they have live music?",
        "Is there live music there?",
        "Is liquor served?",
        "How expensive is this restaurant?",
        "Are their prices expensive? What's their number?",
        "Find out if they have live music.",
    ],
)
def test_questions_about_a_found_place_set_no_filter(text):
    assert spoken_filters(text) == {}


def test_a_question_that_asks_for_a_search_still_sets_one():
    assert spoken_filters("Are there any additional restaurants that have alcohol available?") == {"serves_alcohol": "True"}
    assert spoken_filters("Any other suggestions? Something affordable?") == {"price_range": "moderate"}
    # one sentence asks about the place, the next one wishes
    assert spoken_filters("Do they serve liquor? I want something cheap.") == {"price_range": "inexpensive"}


def test_the_last_word_in_a_message_wins():
    assert spoken_filters("Something pricey. Actually no, any price is fine.") == {"price_range": None}
