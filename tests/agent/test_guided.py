"""Guided decoding (agent.guided): the call grammar's verdicts, every prefix of a valid call accepted
and no dead ends, the token-level pick on a real tokenizer, and guided generation on tiny models
(the hf policy, batched eval generation, an ensemble) never leaving the grammar."""

from __future__ import annotations

import json

import pytest
import torch

from agent.conversation import user_message
from agent.guided import CallChecker, TokenGuide, guided_argmax
from agent.model_loading import load_model
from agent.policies.hf import HFPolicy, stop_token_ids
from agent.render import RenderConfig, render_prompt
from agent.tools import tool_schemas
from eval.predict import HFPredictor
from tests.support.parrot import PARROT_KW, PARROT_MESSAGE, parrot_model_dir

CHECK = CallChecker(tool_schemas())


def rendered(name: str, **arguments) -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


VALID = [
    rendered("FindRestaurants", city="San Jose", cuisine="Thai", price_range="moderate"),
    rendered("ReserveRestaurant", city="Oakland", party_size="4", restaurant_name="Kingston 11", time="12:00"),
    rendered("respond_to_user", message='Say "hi" \\ café\n\u0007 done'),
    '<tool_call>{"name":"respond_to_user","parameters":{"message":"x"}}</tool_call>',
    rendered("FindRestaurants", cuisine="Thai", city="Napa"),  # any key order
]


@pytest.mark.parametrize("text", VALID)
def test_valid_calls_are_complete_and_every_prefix_partial(text):
    assert CHECK.check(text) == "complete"
    assert all(CHECK.check(text[:i]) == "partial" for i in range(len(text)))


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>\n{"name": "Fly',  # no such tool
        '<tool_call>\n{"name": "FindRestaurants", "arguments": {"town"',  # no such key
        '<tool_call>\n{"name": "FindRestaurants", "arguments": {"city": "A", "city"',  # a key twice
        '<tool_call>\n{"name": "FindRestaurants", "arguments": {"city": "A", "cuisine": "B", "price_range": "cheap',
        '<tool_call>\n{"name": "FindRestaurants", "arguments": {"city": "A"}',  # required cuisine missing
        '<tool_call>\n{"name": "respond_to_user", "arguments": {"message": "a",',  # no key left to add
        '<tool_call>\n{"name": "respond_to_user", "arguments": {"message": "a\tb"',  # raw control character
        '<tool_call>\n{"name": "respond_to_user", "arguments": {"message": "\\x"',  # bad escape
        '<tool_call>\n{"name": "respond_to_user", "arguments": {"message": "a"}}\n</tool_call> more',
        'Sure! <tool_call>',
        ' <tool_call>',  # the call starts the output
        '<tool_call>\n{' + ' ' * 17,  # no endless blanks
    ],
)
def test_leaving_the_grammar_is_bad(text):
    assert CHECK.check(text) == "bad"


def test_strings_are_capped_so_a_looping_model_closes_the_call():
    start = '<tool_call>\n{"name": "respond_to_user", "arguments": {"message": "'
    assert CHECK.check(start + "a" * 512) == "partial"
    assert CHECK.check(start + "a" * 513) == "bad"
    assert CHECK.check(start + "a" * 512 + '"}}\n</tool_call>') == "complete"
    short = CallChecker(tool_schemas(), max_string=4)
    assert short.check(start + "abcd" + '"') == "partial" and short.check(start + "abcde") == "bad"


def test_empty_arguments_only_when_nothing_is_required():
    empty = CallChecker([{"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}}])
    assert empty.check('<tool_call>{"name": "ping", "arguments": {}}</tool_call>') == "complete"
    assert CHECK.check('<tool_call>{"name": "respond_to_user", "arguments": {}') == "bad"


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return load_model(str(tiny_model_dir), device="cpu")


def single_token(tokenizer, text: str) -> int:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == 1, (text, ids)
    return ids[0]


def test_guided_argmax_takes_the_best_allowed_token(tiny):
    tok = tiny.tokenizer
    guide = TokenGuide(tok, CHECK, stop_token_ids(tok))
    text = '<tool_call>\n{"name": "respond_to_user", "arguments": {"message": "hi"'
    comma, brace = single_token(tok, ","), single_token(tok, "}")
    end_turn = tok.convert_tokens_to_ids("<|im_end|>")
    logits = torch.zeros(len(tok))
    logits[comma], logits[end_turn], logits[brace] = 3.0, 2.0, 1.0
    assert guided_argmax(guide, text, logits) == brace  # "," has no key to add; the call is not complete
    closed = text + "}}\n"
    close_call = tok.convert_tokens_to_ids("</tool_call>")
    logits[close_call] = 0.5
    assert guided_argmax(guide, closed, logits) == close_call
    assert guide.ok(closed + "</tool_call>", end_turn)  # a stop token ends only a complete call


def test_guided_policy_leaves_a_valid_model_alone(tiny_model_dir, tmp_path_factory):
    parrot = load_model(str(parrot_model_dir(tmp_path_factory, tiny_model_dir)), device="cpu")
    free = HFPolicy(parrot, **PARROT_KW).next_call([user_message("hello")])
    guided = HFPolicy(parrot, **PARROT_KW, guided=True).next_call([user_message("hello")])
    assert guided.raw_text == free.raw_text
    assert (guided.call.name, guided.call.arguments) == ("respond_to_user", {"message": PARROT_MESSAGE})


def scrambled(tiny_model_dir):
    """The tiny model (or an ensemble of them) with large random weights: its free output is no call at all."""
    loaded = load_model(str(tiny_model_dir), device="cpu")
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, param in loaded.model.named_parameters():
            if "norm" not in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.3)
    return loaded


def test_guided_generation_never_leaves_the_grammar(tiny_model_dir):
    loaded = scrambled(tiny_model_dir)
    conversations = [[user_message("Thai food in San Jose")], [user_message("Book Bangkok Bay at 7 pm, two people")]]
    free = HFPredictor(loaded.model, loaded.tokenizer, batch_size=2, max_new_tokens=40).predict(conversations)
    assert all(CHECK.check(text) == "bad" for text in free)
    guided = HFPredictor(loaded.model, loaded.tokenizer, batch_size=2, max_new_tokens=40, guided=True)
    texts = guided.predict(conversations)
    assert all(CHECK.check(text) in ("partial", "complete") for text in texts)
    assert all(text.startswith('<tool_call>') for text in texts)
    # the hf policy's own decode loop, greedy and sampled, keeps to it as well
    for sampling in ({}, {"temperature": 1.0, "seed": 1}):
        policy = HFPolicy(loaded, max_new_tokens=40, guided=True)
        if sampling:
            from agent.policies.hf import Sampling

            policy.set_sampling(Sampling(**sampling))
        step = policy.next_call(conversations[0])
        assert CHECK.check(step.raw_text) in ("partial", "complete")
    # one row alone and in a batch get the same guided text (the processor works per row)
    alone = HFPredictor(loaded.model, loaded.tokenizer, batch_size=1, max_new_tokens=40, guided=True)
    assert alone.predict(conversations) == texts
    assert render_prompt(loaded.tokenizer, conversations[0], tool_schemas(), RenderConfig())  # prompts render with tools


def test_guided_ensemble_generation(tiny_model_dir, tmp_path):
    from agent.ensemble import build_ensemble_dir

    pair = build_ensemble_dir(tmp_path / "pair", [tiny_model_dir, tiny_model_dir], tiny_model_dir)
    loaded = load_model(str(pair), device="cpu")
    texts = HFPredictor(loaded.model, loaded.tokenizer, max_new_tokens=30, guided=True).predict([[user_message("hi")]])
    assert CHECK.check(texts[0]) in ("partial", "complete") and texts[0].startswith("<tool_call>")


def test_guided_eval_needs_a_local_model(tmp_path, capsys, data_dir):
    from cli.main import main

    code = main(["--data-dir", str(data_dir), "eval", "run", "--endpoint", "http://127.0.0.1:9/v1", "--guided", "--out", str(tmp_path / "e")])
    assert code != 0 and "work on local models" in capsys.readouterr().err
