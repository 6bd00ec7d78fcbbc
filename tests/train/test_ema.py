"""EMA of the trained weights: the decay ramp, ema/ holds the hand-computed average of the weights
after every step (full and LoRA), and an interrupted run resumes the same average."""

import pytest
import torch
from transformers import TrainerCallback

from tests.train.test_finetune import Crash, config, state
from train.ema import ema_decay_at, trained_parameters
from train.finetune import finetune

DECAY = 0.8


class Record(TrainerCallback):
    """The trained parameters after each optimizer step, and before the first."""

    def __init__(self):
        self.history: list[dict[str, torch.Tensor]] = []

    def _grab(self, model):
        self.history.append({n: p.detach().clone() for n, p in trained_parameters(model).items()})

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._grab(model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self._grab(model)


def hand_ema(history):
    shadow = {n: t.clone() for n, t in history[0].items()}
    for step, params in enumerate(history[1:]):
        rate = 1.0 - ema_decay_at(DECAY, step)
        for n in shadow:
            shadow[n] = shadow[n] + rate * (params[n] - shadow[n])
    return shadow


def test_the_decay_ramps_up_to_its_value():
    assert ema_decay_at(0.998, 0) == pytest.approx(0.1)
    assert ema_decay_at(0.998, 10) == pytest.approx(11 / 20)
    assert ema_decay_at(0.998, 100_000) == 0.998
    assert ema_decay_at(0.5, 50) == 0.5


def test_ema_is_the_average_of_the_weights_after_every_step(tiny_model_dir, small_traces, short_render, tmp_path):
    record = Record()
    result = finetune(config(tiny_model_dir, ema_decay=DECAY), small_traces, tmp_path, tools=[], render=short_render,
                      callbacks=[record])
    assert len(record.history) == 7  # the start and 6 steps
    expected = hand_ema(record.history)
    ema, last = state(tmp_path / "ema"), state(result.output_dir)
    for name, value in expected.items():
        assert torch.allclose(ema[name], value, atol=1e-6), name
    # final/ keeps the last weights, which differ from their average
    assert any(not torch.allclose(ema[k], last[k]) for k in expected)
    assert all(torch.allclose(last[n], t) for n, t in record.history[-1].items())


def test_lora_ema_covers_the_adapter_only(tiny_model_dir, small_traces, short_render, tmp_path):
    from safetensors.torch import load_file

    record = Record()
    finetune(config(tiny_model_dir, method="lora", lr=1e-2, ema_decay=DECAY), small_traces, tmp_path, tools=[],
             render=short_render, callbacks=[record])
    assert all("lora_" in name for name in record.history[0])
    saved = load_file(tmp_path / "ema" / "adapter_model.safetensors")
    expected = hand_ema(record.history)
    assert len(saved) == len(expected)
    for name, value in expected.items():
        key = name.replace(".default", "")
        assert torch.allclose(saved[key], value, atol=1e-6), name


def test_an_interrupted_run_resumes_the_same_average(tiny_model_dir, small_traces, short_render, tmp_path):
    finetune(config(tiny_model_dir, ema_decay=DECAY), small_traces, tmp_path / "ref", tools=[], render=short_render)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        finetune(config(tiny_model_dir, ema_decay=DECAY), small_traces, run, tools=[], render=short_render,
                 callbacks=[Crash(4)])
    assert (run / "checkpoints" / "checkpoint-3" / "ema.pt").exists()
    result = finetune(config(tiny_model_dir, ema_decay=DECAY), small_traces, run, tools=[], render=short_render)
    assert result.metrics["resumed_from"].endswith("checkpoint-3")
    ref, resumed = state(tmp_path / "ref" / "ema"), state(run / "ema")
    for key in ref:
        assert torch.allclose(ref[key], resumed[key], atol=1e-5), key
