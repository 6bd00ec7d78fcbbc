"""The conversation trainer: weighted losses agree between the shared-prefix and plain paths and
with a hand computation, weighted runs train, and bf16 on a CPU autocasts the shared-prefix path
while the trained weights stay fp32."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from agent.render import IGNORE_INDEX, RenderConfig
from train.dataset import build_examples
from train.finetune import FinetuneConfig, default_tools, finetune
from train.prefix_sharing import PrefixSharingCollator, prefix_shared_loss
from train.trainer import weighted_loss


@pytest.fixture(scope="module")
def weighted_batch(tiny_model_dir, small_traces):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples, _ = build_examples(tok, small_traces[:2], default_tools(), RenderConfig(), decision_weight=5.0)
    items = [{"input_ids": e.input_ids, "labels": e.labels, "loss_weights": e.weights} for e in examples]
    return PrefixSharingCollator(tok.pad_token_id)(items)


def hand_loss(model, batch):
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    targets, w = batch["labels"][:, 1:], batch["loss_weights"][:, 1:]
    keep = targets != IGNORE_INDEX
    ce = torch.nn.functional.cross_entropy(logits[keep], targets[keep], reduction="none")
    return (ce * w[keep]).sum() / keep.sum()


def test_weighted_losses_agree_on_both_paths_and_with_a_hand_computation(tiny_model_dir, weighted_batch):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    inputs = {k: v for k, v in weighted_batch.items() if k != "shared_prefix"}
    prefix = int(weighted_batch["shared_prefix"])
    assert prefix > 16
    with torch.no_grad():
        expected = hand_loss(model, weighted_batch)
        shared = prefix_shared_loss(model, inputs, prefix)
        plain = weighted_loss(model, inputs)
        unweighted = model(**{k: v for k, v in inputs.items() if k != "loss_weights"}).loss
    assert shared.item() == pytest.approx(expected.item(), rel=1e-5)
    assert plain.item() == pytest.approx(expected.item(), rel=1e-5)
    assert expected.item() > unweighted.item()  # weights of 5 on some tokens, 1 on the rest
    ones = {**inputs, "loss_weights": torch.ones_like(inputs["loss_weights"])}
    with torch.no_grad():
        assert weighted_loss(model, ones).item() == pytest.approx(unweighted.item(), rel=1e-5)


def metrics_losses(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


@pytest.mark.parametrize("batch_size", [1, 2])
def test_a_weighted_run_trains_on_either_path(tiny_model_dir, small_traces, tmp_path, batch_size):
    def run(weight: float):
        cfg = FinetuneConfig(
            model=str(tiny_model_dir), method="full", lr=3e-3, max_steps=6, batch_size=batch_size,
            grad_accumulation=1, lr_scheduler="constant", progress=False, seed=1, logging_steps=1,
            decision_weight=weight,
        )
        finetune(cfg, small_traces, tmp_path / f"w{weight}")
        return metrics_losses(tmp_path / f"w{weight}")

    plain, weighted = run(1.0), run(4.0)
    assert len(weighted) == 6 and weighted[-1] < weighted[0]
    assert weighted[0] > plain[0]  # the logged loss is the weighted one


def test_bf16_on_cpu_autocasts_the_shared_prefix_path_and_keeps_fp32_weights(
    tiny_model_dir, small_traces, tmp_path, monkeypatch
):
    import train.trainer as trainer_module

    seen = []
    real = trainer_module.prefix_shared_loss

    def spy(model, inputs, prefix, num_items=None, state=None):
        seen.append((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu"), next(model.parameters()).dtype))
        return real(model, inputs, prefix, num_items, state)

    monkeypatch.setattr(trainer_module, "prefix_shared_loss", spy)
    cfg = FinetuneConfig(
        model=str(tiny_model_dir), method="full", lr=3e-3, max_steps=3, batch_size=2, grad_accumulation=1,
        progress=False, seed=1, logging_steps=1, bf16=True, group_by_length=True,
    )
    result = finetune(cfg, small_traces, tmp_path / "bf16")
    assert seen and all(s == (True, torch.bfloat16, torch.float32) for s in seen)
    losses = metrics_losses(tmp_path / "bf16")
    assert len(losses) == 3 and all(loss == loss and loss < 20 for loss in losses)  # finite
    model = AutoModelForCausalLM.from_pretrained(result.output_dir)
    assert next(model.parameters()).dtype == torch.float32
