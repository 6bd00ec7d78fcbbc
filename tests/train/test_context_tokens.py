"""Context tokens: the mask covers the user turns and tool results (never the system message or an
assistant call), the weights reach the batch and keep the shared prefix before them, both loss
paths agree with a hand computation, and a run with a context weight trains and lowers that loss."""


import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from agent.conversation import ToolCall, user_message
from agent.render import IGNORE_INDEX, RenderConfig, render_training_tokens
from agent.trace_io import Trace
from tests.support.short_runs import short_run
from train.context_tokens import context_mask, context_weights
from train.dataset import PadCollator, TokenizedDataset, build_examples, expand_per_turn
from train.finetune import default_tools
from train.prefix_sharing import PrefixSharingCollator, prefix_shared_loss
from train.trainer import weighted_loss


def conversation(city: str = "Oakland") -> list[dict]:
    return [
        user_message(f"Thai food in {city} please"),
        ToolCall("FindRestaurants", {"city": city, "cuisine": "Thai"}).to_message(),
        user_message(f'[{{"restaurant_name": "Thai Basil", "city": "{city}"}}]'),
        ToolCall("respond_to_user", {"message": "How about Thai Basil?"}).to_message(),
    ]


def chosen_text(tokens, mask) -> str:
    return "".join(tokens.text[slice(*tokens.offsets[k])] for k, on in enumerate(mask) if on)


def test_the_mask_covers_user_turns_and_tool_results_only(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokens = render_training_tokens(tok, conversation(), default_tools(), RenderConfig())
    mask = context_mask(tokens)
    assert len(mask) == len(tokens.input_ids)
    assert not any(on and lab != IGNORE_INDEX for on, lab in zip(mask, tokens.labels, strict=True))
    text = chosen_text(tokens, mask)
    assert "Thai food in Oakland please" in text
    assert '"restaurant_name": "Thai Basil"' in text
    # the system message (task description and schemas) is the same everywhere: never a context token
    system_end = tokens.text.find("<|im_end|>") + len("<|im_end|>")
    assert all(tokens.offsets[k][0] >= system_end for k, on in enumerate(mask) if on)
    assert "FindRestaurants" not in text and "How about" not in text
    # every token after the system message is either supervised or context
    for k, (start, end) in enumerate(tokens.offsets):
        if start >= system_end and end > start:
            assert mask[k] != (tokens.labels[k] != IGNORE_INDEX)
    weights = context_weights(tokens, 0.25)
    assert {w for w, on in zip(weights, mask, strict=True) if on} == {0.25}
    assert {w for w, on in zip(weights, mask, strict=True) if not on} == {0.0}


def test_weights_reach_the_batch_and_the_labels_do_not_change(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    convs = [Trace(conversation("Oakland")), Trace(conversation("San Jose")[:2])]
    plain, _ = build_examples(tok, convs, default_tools())
    assert all(ex.context is None for ex in plain)
    with_context, report = build_examples(tok, convs, default_tools(), context_weight=0.5)
    assert [ex.labels for ex in with_context] == [ex.labels for ex in plain]  # the SFT mask is untouched
    assert report.supervised_tokens == sum(ex.supervised for ex in plain)
    batch = PadCollator(tok.pad_token_id)([TokenizedDataset(with_context)[i] for i in range(2)])
    short = len(with_context[1].input_ids)
    assert batch["context_weights"][1, short:].eq(0).all()  # padding is no context
    assert batch["context_weights"][1, :short].tolist() == with_context[1].context
    # per-turn expansion keeps the context of each prefix
    expanded = expand_per_turn(with_context)
    assert all(ex.context is not None and len(ex.context) == len(ex.input_ids) for ex in expanded)
    # the shared prefix stops before the first context token (the first user turn differs only late)
    shared = PrefixSharingCollator(tok.pad_token_id)([TokenizedDataset(with_context)[i] for i in range(2)])
    first_context = min(ex.context.index(0.5) for ex in with_context)
    assert 16 < int(shared["shared_prefix"]) < first_context


@pytest.fixture(scope="module")
def context_batch(tiny_model_dir, small_traces):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples, _ = build_examples(tok, small_traces[:2], default_tools(), decision_weight=3.0, context_weight=0.5)
    data = TokenizedDataset(examples)
    return PrefixSharingCollator(tok.pad_token_id)([data[0], data[1]])


def hand_loss(model, batch):
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    labels, ids = batch["labels"][:, 1:], batch["input_ids"][:, 1:]
    decision, context = batch["loss_weights"][:, 1:], batch["context_weights"][:, 1:]
    total = torch.tensor(0.0)
    for r in range(labels.shape[0]):
        for t in range(labels.shape[1]):
            if labels[r, t] != IGNORE_INDEX:
                total += decision[r, t] * torch.nn.functional.cross_entropy(logits[r, t], labels[r, t])
            elif context[r, t] > 0:
                total += context[r, t] * torch.nn.functional.cross_entropy(logits[r, t], ids[r, t])
    return total / (labels != IGNORE_INDEX).sum()


def test_both_loss_paths_agree_with_a_hand_computation(tiny_model_dir, context_batch):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    inputs = {k: v for k, v in context_batch.items() if k != "shared_prefix"}
    prefix = int(context_batch["shared_prefix"])
    with torch.no_grad():
        expected = hand_loss(model, context_batch)
        shared = prefix_shared_loss(model, inputs, prefix)
        plain = weighted_loss(model, inputs)
        without = weighted_loss(model, {k: v for k, v in inputs.items() if k != "context_weights"})
    assert shared.item() == pytest.approx(expected.item(), rel=1e-4)
    assert plain.item() == pytest.approx(expected.item(), rel=1e-4)
    assert expected.item() > without.item()  # the context term adds to the supervised loss


def context_loss(model_dir, batch) -> float:
    """Mean loss per context token (user text and tool results) of the model in model_dir."""
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    on = batch["context_weights"][:, 1:] > 0
    return torch.nn.functional.cross_entropy(logits[on], batch["input_ids"][:, 1:][on]).item()


def test_a_run_with_context_weight_lowers_the_context_loss(tiny_model_dir, small_traces, tmp_path, context_batch):
    plain_run, plain = short_run(tiny_model_dir, small_traces, tmp_path / "plain")
    context_run, with_context = short_run(tiny_model_dir, small_traces, tmp_path / "context", context_weight=1.0)
    plain_dir, context_dir = plain_run.output_dir, context_run.output_dir
    assert len(with_context) == 8 and with_context[0] > plain[0]  # the logged loss includes the context term
    assert context_loss(context_dir, context_batch) < context_loss(plain_dir, context_batch)
