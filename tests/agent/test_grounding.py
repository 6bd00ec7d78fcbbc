"""Grounded decoding (agent.grounding + agent.guided's `values`): which values a conversation grounds,
that the checker then allows those strings only, that a decoder whatever its logits writes one of
them, and that the batched eval predictor and the hf policy keep every grounded value in the set."""

from __future__ import annotations

import json

import pytest
import torch

from agent.conversation import ToolCall, user_message
from agent.grounding import Gazetteer, phrases
from agent.guided import CallChecker, TokenGuide, guided_argmax
from agent.policies.hf import HFPolicy, stop_token_ids
from agent.tools import tool_schemas
from eval.metrics import parse_call
from eval.predict import HFPredictor
from tests.agent.test_guided import scrambled
from tests.support.agent_db import small_db

GAZ = Gazetteer({
    "city": ["San Jose", "Santa Rosa", "San Francisco", "Fairfield"],
    "restaurant_name": ["Thai Orchid", "Mimi's Cafe", 'The "Quoted" Bar'],
    "cuisine": ["Thai", "Breakfast"],
})
PREFIX = '<tool_call>\n{"name": "FindRestaurants", "arguments": {"city": "'


def conversation() -> list[dict]:
    results = [{"restaurant_name": "Thai Orchid", "city": "San Jose", "cuisine": "Thai"},
               {"restaurant_name": "Lotus Thai", "city": "San Jose", "cuisine": "Thai"}]
    return [
        user_message("I'd like thai food in san jose, maybe Santa Rosa"),
        ToolCall("FindRestaurants", {"city": "San Jose", "cuisine": "Thai"}).to_message(),
        user_message(json.dumps(results)),
        ToolCall("respond_to_user", {"message": "How about Thai Orchid?"}).to_message(),
        user_message("Yes, book it for 7:30 pm next Monday. Not the Sandwich place."),
    ]


def test_names_match_as_whole_words_whatever_their_case():
    assert GAZ.mentioned("city", "dinner in SANTA ROSA, please") == ["Santa Rosa"]
    assert GAZ.mentioned("city", "a Sandwich in Santa Rosalind") == []
    assert GAZ.mentioned("restaurant_name", "book mimi's cafe") == ["Mimi's Cafe"]


def test_time_and_date_phrases_become_the_tool_formats():
    from agent.grounding import _TIME_CUE, _dates, _times
    from backend.normalize import normalize_time

    assert _times("Evening 6:30, or half past 7 in the evening. For 2 people.") == ["18:30", "19:30"]
    assert _times("11:15 in the morning") == ["11:15"]
    assert _dates("on March 7th or the day after tomorrow, not today") == ["2019-03-07", "2019-03-03", "2019-03-01"]
    assert phrases("a table for 4", _TIME_CUE, normalize_time) == []  # a number without a time cue is no time


def test_a_conversation_grounds_its_results_and_the_users_words():
    values = GAZ.candidates(conversation())
    # tool results first, then the database names the user's words mention
    assert values["restaurant_name"] == ["Thai Orchid", "Lotus Thai"]
    assert values["city"] == ["San Jose", "Santa Rosa"]
    assert values["cuisine"] == ["Thai"]
    assert values["time"] == ["19:30"] and values["date"] == ["2019-03-04"]
    assert "party_size" not in values  # nobody said how many: the model picks from the enum
    # nothing said: every value stays free, but the date, which the tool defaults to today
    assert GAZ.candidates([user_message("hello")]) == {"date": ["2019-03-01"]}


def test_the_users_latest_word_on_time_date_and_party_size_wins():
    chat = [
        user_message("Thai Orchid at 7 pm on March 5th for 3 people"),
        user_message("Is it in San Jose?"),  # says nothing of them: the values stand
        user_message("No, make it half past 8 in the evening, a table for two, and at Mimi's Cafe"),
    ]
    values = GAZ.candidates(chat)
    assert values["time"] == ["20:30"] and values["party_size"] == ["2"] and values["date"] == ["2019-03-05"]
    assert values["restaurant_name"] == ["Thai Orchid", "Mimi's Cafe"]  # names add up: the model chooses
    assert GAZ.candidates(chat[:2])["time"] == ["19:00"] and GAZ.candidates(chat[:2])["party_size"] == ["3"]


def test_a_name_is_found_by_its_part_before_the_dash():
    gaz = Gazetteer({"restaurant_name": ["Coupa Cafe - Ramona", "Koi Palace - Dublin", "Koi Palace - Milpitas"]})
    assert gaz.mentioned("restaurant_name", "The restaurant is Coupa Cafe in Palo Alto.") == ["Coupa Cafe - Ramona"]
    assert gaz.mentioned("restaurant_name", "koi palace - dublin please") == ["Koi Palace - Dublin", "Koi Palace - Milpitas"]


def test_the_assistants_own_words_and_calls_ground_nothing():
    """In a live chat they are the model's output: a city it made up must not become allowed."""
    made_up = [
        user_message("Thai food please"),
        ToolCall("FindRestaurants", {"city": "San Francisco", "cuisine": "Thai"}).to_message(),
        ToolCall("respond_to_user", {"message": "Thai Orchid in Fairfield at 7 pm tomorrow?"}).to_message(),
    ]
    assert GAZ.candidates(made_up) == {"cuisine": ["Thai"], "date": ["2019-03-01"]}


def test_the_checker_allows_grounded_strings_only():
    checker = CallChecker(tool_schemas(), values={"city": ["Santa Rosa"], "restaurant_name": ['The "Quoted" Bar']})
    assert checker.check(PREFIX + "Santa") == "partial"
    assert checker.check(PREFIX + 'Santa Rosa", "cuisine": "Anything at all"}}\n</tool_call>') == "complete"
    assert checker.check(PREFIX + 'Santa"') == "bad"
    assert checker.check(PREFIX + "San Jose") == "bad"
    reserve = '<tool_call>{"name": "ReserveRestaurant", "arguments": {"restaurant_name": "'
    assert checker.check(reserve + 'The \\"Quoted\\" Bar", "city": "Santa Rosa", "time": "7 pm"}}</tool_call>') == "complete"
    # party_size keeps its enum, which grounding never widens, only narrows
    head = reserve + 'X", "city": "Y", "time": "7 pm", "party_size": "'
    assert CallChecker(tool_schemas(), values={"party_size": ["9"]}).check(head + '9"}}</tool_call>') == "bad"
    assert CallChecker(tool_schemas(), values={"party_size": ["9"]}).check(head + '4"}}</tool_call>') == "complete"
    assert CallChecker(tool_schemas(), values={"party_size": ["3"]}).check(head + '4"}}</tool_call>') == "bad"
    assert CallChecker(tool_schemas(), values={"party_size": ["3"]}).check(head + '3"}}</tool_call>') == "complete"


def test_filters_follow_the_users_latest_word_and_never_a_tool_result():
    results = [{"restaurant_name": "Thai Orchid", "city": "San Jose", "price_range": "expensive",
                "has_live_music": "True", "serves_alcohol": "True"}]
    chat = [
        user_message("Thai food in San Jose, something cheap, with live music."),
        ToolCall("FindRestaurants", {"city": "San Jose", "cuisine": "Thai"}).to_message(),
        user_message(json.dumps(results)),  # a record's price and flags ground no filter
    ]
    values = GAZ.candidates(chat)
    assert values["price_range"] == ["inexpensive"] and values["has_live_music"] == ["True"]
    assert "serves_alcohol" not in values
    chat.append(user_message("Is there live music? Actually, any price is fine."))
    values = GAZ.candidates(chat)
    assert "price_range" not in values and values["has_live_music"] == ["True"]  # lifted; still wanted
    assert GAZ.candidates(chat, keys=("city",)) == {"city": ["San Jose"]}


def test_a_grounded_filter_is_written_exactly_when_the_user_asked_for_it():
    from agent.grounding import grounded_checker

    head = '<tool_call>{"name": "FindRestaurants", "arguments": {"city": "San Jose", "cuisine": "Thai"'
    plain = grounded_checker(tool_schemas(), {"city": ["San Jose"]})
    assert plain.check(head + "}}</tool_call>") == "complete"
    assert plain.check(head + ', "price_range"') == "bad"  # nobody asked for a price
    cheap = grounded_checker(tool_schemas(), {"city": ["San Jose"], "price_range": ["inexpensive"]})
    assert cheap.check(head + "}}</tool_call>") == "bad"  # the user asked for it: it must be there
    assert cheap.check(head + ', "price_range": "moderate"}}</tool_call>') == "bad"
    assert cheap.check(head + ', "price_range": "inexpensive"}}</tool_call>') == "complete"
    assert cheap.check(head + ', "serves_alcohol": "True", "price_range": "inexpensive"}}</tool_call>') == "bad"
    # ReserveRestaurant has no filters: its calls are what they were
    reserve = '<tool_call>{"name": "ReserveRestaurant", "arguments": {"restaurant_name": "X", "city": "San Jose", "time": "19:00"}}</tool_call>'
    assert cheap.check(reserve) == "complete"


def test_whatever_the_logits_the_value_is_a_grounded_one(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    checker = CallChecker(tool_schemas(), values={"city": ["Santa Rosa", "San Jose"]})
    guide = TokenGuide(tok, checker, stop_token_ids(tok))
    gen = torch.Generator().manual_seed(0)
    for trial in range(5):
        text = PREFIX
        while checker.check(text + '"') != "partial" or text == PREFIX:
            text += guide.piece(guided_argmax(guide, text, torch.randn(len(tok), generator=gen)))
        assert text[len(PREFIX):] in ("Santa Rosa", "San Jose"), trial


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    return scrambled(tiny_model_dir)


def grounded_values_ok(text: str, values: dict[str, list[str]]) -> bool:
    call = parse_call(text)
    if call is None:
        return True  # cut by max_new_tokens mid-call: the checker still held every prefix
    return all(call.arguments[k] in values[k] for k in values if k in call.arguments)


def test_predictor_and_policy_keep_grounded_values(loaded):
    chats = [conversation(), [user_message("Thai in Fairfield")], [user_message("hello")]]
    predictor = HFPredictor(loaded.model, loaded.tokenizer, batch_size=2, max_new_tokens=60, grounding=GAZ)
    texts = predictor.predict(chats)
    for chat, text in zip(chats, texts, strict=True):
        assert text.startswith("<tool_call>")
        assert grounded_values_ok(text, GAZ.candidates(chat))
    policy = HFPolicy(loaded, max_new_tokens=60, grounding=GAZ)
    for chat in chats:
        step = policy.next_call(chat)
        assert step.raw_text.startswith("<tool_call>") and grounded_values_ok(step.raw_text, GAZ.candidates(chat))


def test_the_gazetteer_reads_the_database(tmp_path):
    gaz = Gazetteer.from_database(small_db(tmp_path / "r.db"))
    assert gaz.mentioned("restaurant_name", "is thai orchid open?") == ["Thai Orchid"]
    assert gaz.mentioned("city", "in fairfield or san jose") == ["Fairfield", "San Jose"]
    assert gaz.mentioned("cuisine", "breakfast") == ["Breakfast"]


def test_grounded_eval_needs_the_database_and_a_local_model(tmp_path, capsys, data_dir, tiny_model_dir):
    from cli.main import main

    base = ["--data-dir", str(data_dir), "--home", str(tmp_path / "home"), "eval", "run", "--limit", "1"]
    assert main([*base, "--model", str(tiny_model_dir), "--grounded", "--out", str(tmp_path / "e")]) != 0
    assert "run `resto db build` first" in capsys.readouterr().err
    assert main([*base, "--endpoint", "http://127.0.0.1:9/v1", "--grounded", "--out", str(tmp_path / "f")]) != 0
    assert "work on local models" in capsys.readouterr().err
