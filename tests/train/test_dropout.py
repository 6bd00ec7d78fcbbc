"""Residual dropout (train.dropout): where the hooks sit, that they drop the right share only in
training mode, that the saved model carries no trace of them, and that a run with dropout trains
differently from one without, yet resumes exactly after an interruption."""

import pytest
import torch
from transformers import AutoModelForCausalLM

from tests.train.test_finetune import Crash, config, losses, state
from train.config import FinetuneConfig
from train.dropout import add_residual_dropout, dropout_targets
from train.finetune import finetune


@pytest.fixture()
def model(tiny_model_dir):
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir)


def ids(model, n=12):
    return torch.arange(3, 3 + n).unsqueeze(0) % model.config.vocab_size


def test_the_hooks_sit_on_the_embeddings_and_every_attention_and_mlp(model):
    targets = dropout_targets(model)
    layers = model.config.num_hidden_layers
    assert len(targets) == 1 + 2 * layers
    assert targets[0] is model.get_input_embeddings()
    assert {type(t).__name__ for t in targets[1:]} == {"Qwen3Attention", "Qwen3MLP"}
    assert len(add_residual_dropout(model, 0.2)) == 1 + 2 * layers
    assert add_residual_dropout(model, 0.0) == []


def test_a_dropped_share_of_activations_in_training_mode_only(model):
    seen = []
    embed = model.get_input_embeddings()
    handles = add_residual_dropout(model, 0.3)
    # a hook registered after ours sees what dropout made of the embeddings
    embed.register_forward_hook(lambda m, a, out: seen.append(out.detach().clone()))
    model.train()
    with torch.no_grad():
        model(ids(model, 200))
    plain = embed.weight[ids(model, 200)].detach()
    zeroed = (seen[-1] == 0) & (plain != 0)
    assert 0.25 < zeroed.float().mean().item() < 0.35
    kept = seen[-1] != 0
    assert torch.allclose(seen[-1][kept], (plain / 0.7)[kept], atol=1e-6)  # inverted dropout rescales
    model.eval()
    with torch.no_grad():
        model(ids(model, 200))
    assert torch.equal(seen[-1], plain)
    for h in handles:
        h.remove()


def test_evaluation_is_the_plain_model_and_training_mode_is_not(model, tiny_model_dir):
    plain = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    add_residual_dropout(model, 0.5)
    x = ids(model)
    with torch.no_grad():
        model.eval()
        assert torch.equal(model(x).logits, plain(x).logits)
        model.train()
        first, second = model(x).logits, model(x).logits
    assert not torch.allclose(first, plain(x).logits)
    assert not torch.allclose(first, second)  # a fresh mask each forward


def test_bad_probabilities_are_refused(model):
    for p in (-0.1, 1.0):
        with pytest.raises(ValueError, match="dropout"):
            add_residual_dropout(model, p)
    with pytest.raises(ValueError):
        FinetuneConfig(dropout=1.0)


def test_a_run_with_dropout_trains_differently_and_saves_a_plain_model(
    tiny_model_dir, small_traces, short_render, tmp_path
):
    plain = finetune(config(tiny_model_dir), small_traces, tmp_path / "plain", tools=[], render=short_render)
    dropped = finetune(config(tiny_model_dir, dropout=0.2), small_traces, tmp_path / "drop", tools=[],
                       render=short_render)
    assert losses(tmp_path / "plain") != losses(tmp_path / "drop")
    saved = AutoModelForCausalLM.from_pretrained(dropped.output_dir)
    assert not saved.get_input_embeddings()._forward_hooks
    assert state(plain.output_dir).keys() == state(dropped.output_dir).keys()


def test_an_interrupted_run_with_dropout_resumes_exactly(tiny_model_dir, small_traces, short_render, tmp_path):
    ref = finetune(config(tiny_model_dir, dropout=0.2), small_traces, tmp_path / "ref", tools=[], render=short_render)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        finetune(config(tiny_model_dir, dropout=0.2), small_traces, run, tools=[], render=short_render,
                 callbacks=[Crash(4)])
    resumed = finetune(config(tiny_model_dir, dropout=0.2), small_traces, run, tools=[], render=short_render)
    assert resumed.metrics["resumed_from"].endswith("checkpoint-3")
    a, b = state(ref.output_dir), state(resumed.output_dir)
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-5), key
