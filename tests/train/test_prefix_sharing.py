"""Shared-prefix batches give the plain batch's loss and gradients, for full and LoRA training,
and a Trainer run with them ends at the same weights as one without."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from agent.render import IGNORE_INDEX, RenderConfig
from train.dataset import build_examples
from train.finetune import FinetuneConfig, default_tools, finetune
from train.prefix_sharing import PrefixSharingCollator, prefix_shared_loss, shared_prefix_length

X = IGNORE_INDEX


def test_prefix_is_the_common_part_cut_before_the_first_supervised_prediction():
    rows = [[1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 9, 9], [1, 2, 3, 4, 5]]
    labels = [[X] * 7, [X] * 6, [X] * 5]
    assert shared_prefix_length(rows, labels) == 4
    # a label at index 3 is predicted from position 2, which must run with its row
    labels[1] = [X, X, X, 4, X, X]
    assert shared_prefix_length(rows, labels) == 2
    # identical rows still leave one token per row to the continuation
    assert shared_prefix_length([[1, 2, 3], [1, 2, 3]], [[X] * 3, [X] * 3]) == 2
    assert shared_prefix_length([[5, 1], [6, 1]], [[X, X], [X, X]]) == 0
    assert shared_prefix_length([], []) == 0


@pytest.fixture(scope="module")
def batch(tiny_model_dir, small_traces):
    """Three conversations of different lengths behind a real system prompt with the tool schemas."""
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    traces = [small_traces[0], small_traces[1], type(small_traces[2])(small_traces[2].messages[:4])]
    examples, _ = build_examples(tok, traces, default_tools(), RenderConfig())
    out = PrefixSharingCollator(tok.pad_token_id)([{"input_ids": e.input_ids, "labels": e.labels} for e in examples])
    assert len({len(e.input_ids) for e in examples}) == 3  # rows of three lengths: padding is exercised
    return out


def loss_and_grads(model, batch, shared: bool):
    model.zero_grad()
    inputs = {k: v for k, v in batch.items() if k != "shared_prefix"}
    if shared:
        loss = prefix_shared_loss(model, inputs, int(batch["shared_prefix"]))
    else:
        loss = model(**inputs).loss
    loss.backward()
    return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def assert_same(model, batch):
    plain_loss, plain_grads = loss_and_grads(model, batch, shared=False)
    shared_loss, shared_grads = loss_and_grads(model, batch, shared=True)
    assert shared_loss == pytest.approx(plain_loss, rel=1e-5)
    assert plain_grads.keys() == shared_grads.keys() and plain_grads
    for name, grad in plain_grads.items():
        torch.testing.assert_close(shared_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_shared_prefix_loss_and_gradients_equal_the_plain_batch(tiny_model_dir, batch):
    assert int(batch["shared_prefix"]) > 100  # the system prompt and tool schemas
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert_same(model, batch)


def test_same_for_lora_adapters(tiny_model_dir, batch):
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", lora_dropout=0.0, task_type="CAUSAL_LM"),
    )
    for name, param in model.named_parameters():  # non-zero B matrices, so every adapter gets a gradient
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.02)
    assert_same(model, batch)


def test_a_training_run_with_shared_prefixes_matches_a_plain_one(tiny_model_dir, small_traces, tmp_path, monkeypatch):
    import json

    import train.trainer as ps

    used = []
    real = ps.prefix_shared_loss
    monkeypatch.setattr(ps, "prefix_shared_loss", lambda *a, **k: used.append(a[2]) or real(*a, **k))

    def run(share: bool):
        cfg = FinetuneConfig(
            model=str(tiny_model_dir), method="full", lr=3e-3, max_steps=3, batch_size=2, grad_accumulation=2,
            lr_scheduler="constant", progress=False, seed=1, share_prefix=share, group_by_length=True,
            logging_steps=1,
        )
        result = finetune(cfg, small_traces, tmp_path / f"share-{share}")
        rows = [json.loads(line) for line in (tmp_path / f"share-{share}" / "metrics.jsonl").read_text().splitlines()]
        weights = AutoModelForCausalLM.from_pretrained(result.output_dir).state_dict()
        return [r["loss"] for r in rows if "loss" in r], weights

    (plain_losses, plain), (shared_losses, shared) = run(False), run(True)
    assert len(used) == 6 and min(used) > 100  # every micro-batch took the shared path
    assert shared_losses == pytest.approx(plain_losses, rel=1e-5)
    # Adam divides by the gradients' running RMS, so float rounding moves near-zero entries by ~1e-5
    for name, weight in plain.items():
        torch.testing.assert_close(shared[name], weight, rtol=1e-3, atol=1e-4, msg=name)
