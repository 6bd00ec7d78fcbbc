"""Fine-tuning on CPU with the tiny model: loss goes down, exact resume, LoRA merge."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, TrainerCallback

from agent.conversation import user_message
from agent.render import MaskError
from agent.trace_io import Trace
from train.finetune import FinetuneConfig, finetune


def config(model_dir, **kw):
    base = dict(model=str(model_dir), method="full", lr=3e-3, max_steps=6, batch_size=2, grad_accumulation=1,
                save_steps=3, logging_steps=1, lr_scheduler="constant", progress=False, seed=1)
    return FinetuneConfig(**{**base, **kw})


def losses(run_dir):
    return [r["loss"] for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if "loss" in r]


def state(model_dir):
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    return {k: v.clone() for k, v in model.state_dict().items()}


class Crash(TrainerCallback):
    """Simulates an interruption (a killed job) after `after` optimizer steps."""

    def __init__(self, after):
        self.after = after

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.after:
            raise KeyboardInterrupt("simulated interruption")


@pytest.fixture(scope="module")
def reference_run(tiny_model_dir, small_traces, short_render, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ref")
    result = finetune(config(tiny_model_dir), small_traces, run_dir, tools=[], render=short_render)
    return run_dir, result


def test_a_few_steps_lower_the_loss(reference_run):
    run_dir, result = reference_run
    values = losses(run_dir)
    assert len(values) == 6
    assert values[-1] < values[0] - 0.3
    assert result.metrics["supervised_tokens"] > 0 and result.metrics["global_step"] == 6
    for name in ("config.json", "data.json", "metrics.json"):
        assert (run_dir / name).exists()
    assert (result.merged_dir / "config.json").exists()


def test_interrupted_run_resumes_exactly(tiny_model_dir, small_traces, short_render, tmp_path, reference_run):
    ref_dir, ref = reference_run
    with pytest.raises(KeyboardInterrupt):
        finetune(config(tiny_model_dir), small_traces, tmp_path, tools=[], render=short_render, callbacks=[Crash(4)])
    assert (tmp_path / "checkpoints" / "checkpoint-3").is_dir()
    result = finetune(config(tiny_model_dir), small_traces, tmp_path, tools=[], render=short_render)
    assert result.metrics["resumed_from"].endswith("checkpoint-3")
    assert losses(tmp_path)[-3:] == pytest.approx(losses(ref_dir)[-3:], abs=1e-5)
    a, b = state(ref.output_dir), state(result.output_dir)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6), key


def test_lora_merge_matches_the_adapter(tiny_model_dir, small_traces, short_render, tmp_path):
    from peft import PeftModel

    cfg = config(tiny_model_dir, method="lora", lr=1e-2, max_steps=3, lora_r=4, lora_alpha=8, lora_dropout=0.0)
    result = finetune(cfg, small_traces, tmp_path, tools=[], render=short_render)
    assert (result.output_dir / "adapter_config.json").exists()
    ids = torch.tensor([[5, 17, 42, 99, 7, 3]])
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        before = base(ids).logits.clone()
        adapted = PeftModel.from_pretrained(base, str(result.output_dir)).eval()(ids).logits
        merged = AutoModelForCausalLM.from_pretrained(result.merged_dir).eval()(ids).logits
    assert not torch.allclose(before, adapted, atol=1e-4)  # the adapter learned something
    assert torch.allclose(adapted, merged, atol=1e-4)


def test_bad_mask_fails_before_training(tiny_model_dir, short_render, tmp_path):
    with pytest.raises(MaskError):
        finetune(config(tiny_model_dir), [Trace([user_message("hi")])], tmp_path, tools=[], render=short_render)
    assert not (tmp_path / "checkpoints").exists()


def test_training_runs_without_cudnn_attention(tiny_model_dir, small_traces, short_render, tmp_path, monkeypatch):
    """Whole conversations differ in length, so training runs inside agent.attention's context."""
    from contextlib import contextmanager

    import train.finetune as finetune_module

    opened: list[str] = []

    @contextmanager
    def recorder(enabled: bool = True):
        opened.append("open")
        yield
        opened.append("closed")

    monkeypatch.setattr(finetune_module, "variable_length_attention", recorder)
    result = finetune(config(tiny_model_dir, max_steps=1, save_steps=1), small_traces, tmp_path, tools=[],
                      render=short_render)
    assert result.metrics["global_step"] == 1
    assert opened == ["open", "closed"]
