"""Decision tokens: the scanner finds function names and argument keys (and nothing inside strings),
the mask on a real rendering covers exactly them, and the weights reach the collated batch."""

import json

from transformers import AutoTokenizer

from agent.conversation import ToolCall, user_message
from agent.render import RenderConfig, render_training_tokens
from agent.trace_io import Trace
from train.dataset import PadCollator, TokenizedDataset, build_examples
from train.decision_tokens import call_structure_spans, decision_mask, loss_weights
from train.finetune import default_tools


def marked(text: str) -> list[str]:
    return [text[a:b] for a, b in call_structure_spans(text)]


def test_name_and_argument_keys_are_found_in_a_rendered_call():
    call = {"name": "FindRestaurants", "arguments": {"city": "San Jose", "cuisine": "Thai", "price_range": "cheap"}}
    text = f"<tool_call>\n{json.dumps(call)}\n</tool_call><|im_end|>"
    assert marked(text) == ["FindRestaurants", "city", "cuisine", "price_range"]
    # the benchmark's spelling ("parameters") and a bare object work too
    assert marked(json.dumps({"name": "respond_to_user", "parameters": {"message": "hi"}})) == ["respond_to_user", "message"]


def test_keys_quoted_inside_strings_and_nested_values_are_not_marked():
    message = 'I searched with "city": "Oakland", {"name": "x"} [1, 2]'
    call = {"name": "respond_to_user", "arguments": {"message": message, "extra": {"nested": ["a"]}}}
    text = f"<tool_call>\n{json.dumps(call)}\n</tool_call>"
    assert marked(text) == ["respond_to_user", "message", "extra"]


def test_several_calls_and_text_without_a_call():
    one = json.dumps({"name": "A", "arguments": {"k": "v"}})
    two = json.dumps({"name": "B", "arguments": {}})
    assert marked(f"<tool_call>{one}</tool_call><tool_call>{two}</tool_call>") == ["A", "k", "B"]
    assert marked("no call here") == []
    assert marked('<tool_call>{"name": "unterminated') == []


def conversation() -> list[dict]:
    return [
        user_message('Thai in "Oakland" please'),
        ToolCall("FindRestaurants", {"city": "Oakland", "cuisine": "Thai"}).to_message(),
        user_message('[{"restaurant_name": "Thai Basil", "city": "Oakland"}]'),
        ToolCall("respond_to_user", {"message": 'Try "city": Thai Basil?'}).to_message(),
    ]


def test_the_mask_on_a_real_rendering_covers_the_names_and_keys_only(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokens = render_training_tokens(tok, conversation(), default_tools(), RenderConfig())
    mask = decision_mask(tokens)
    assert len(mask) == len(tokens.input_ids)
    chosen = [k for k, m in enumerate(mask) if m]
    assert chosen and all(tokens.labels[k] != -100 for k in chosen)  # only supervised tokens
    text = "".join(tokens.text[slice(*tokens.offsets[k])] for k in chosen)
    for word in ("FindRestaurants", "city", "cuisine", "respond_to_user", "message"):
        assert word in text
    # the values, the user's text and the tool result are not decisions
    assert "Oakland" not in text and "Basil" not in text
    weights = loss_weights(tokens, 4.0)
    assert {w for k, w in enumerate(weights) if mask[k]} == {4.0}
    assert {w for k, w in enumerate(weights) if not mask[k]} == {1.0}


def test_build_examples_carries_weights_only_when_asked_and_the_collator_pads_them(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    convs = [Trace(conversation()), Trace(conversation()[:2])]
    plain, _ = build_examples(tok, convs, default_tools())
    assert all(ex.weights is None for ex in plain)
    weighted, _ = build_examples(tok, convs, default_tools(), decision_weight=3.0)
    assert [ex.input_ids for ex in weighted] == [ex.input_ids for ex in plain]
    assert all(ex.weights and len(ex.weights) == len(ex.input_ids) and 3.0 in ex.weights for ex in weighted)
    data = TokenizedDataset(weighted)
    batch = PadCollator(tok.pad_token_id)([data[0], data[1]])
    short = len(weighted[1].input_ids)
    assert batch["loss_weights"].shape == batch["input_ids"].shape
    assert batch["loss_weights"][1, short:].eq(0).all()  # padding carries no weight
    assert batch["loss_weights"][1, :short].tolist() == weighted[1].weights
    assert "loss_weights" not in PadCollator(tok.pad_token_id)([TokenizedDataset(plain)[0]])
