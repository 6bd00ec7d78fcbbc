"""The offline demo model: a ~4M-parameter Qwen3 trained from scratch on CPU on the S1 traces.

    resto model demo [--minutes 20] [--out DIR]

Builds the tiny architecture and a BPE tokenizer trained on SGD text (`agent.tiny`), then trains
every weight (`train.finetune`, method `full`) on the 327 S1 conversations for a time budget: a
short calibration reports this machine's tokens/second;
the learning rate follows a cosine over wall-clock time and training stops at `--minutes`. The
model lands in `settings.demo_model_dir` (`<RESTO_HOME>/models/demo`), where `resto chat` finds it
when no hub model is available. Interrupted? Run the same command again: it resumes from the last
checkpoint in `<RESTO_HOME>/runs/demo` (with a fresh time budget).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from pydantic import BaseModel, Field

from agent.settings import Settings
from agent.tiny import TinyConfig, build_tiny_model
from train.config import FinetuneConfig
from train.finetune import FinetuneResult, default_tools, finetune, last_checkpoint
from train.sgd_traces import s1_traces


class DemoConfig(BaseModel):
    minutes: float = Field(default=20.0, gt=0, description="Training time budget.")
    tiny: TinyConfig = Field(default_factory=TinyConfig, description="Architecture (default ~4M parameters).")
    lr: float = 2e-3
    grad_accumulation: int = 2
    warmup_steps: int = 20
    seed: int = 0
    max_steps: int | None = Field(default=None, description="Fixed step count instead of the time budget.")


def time_budget_callback(seconds: float, peak_lr: float, warmup_steps: int):
    """A TrainerCallback that schedules the learning rate by wall-clock time instead of steps:
    linear warm-up over `warmup_steps`, then a cosine decay that reaches 0 when `seconds` have
    passed, when training stops (the model is saved as usual). On a shared, busy CPU the step
    rate varies a lot; a step-based schedule would either overrun the budget or stop before its
    learning rate has decayed."""
    import math

    from transformers import TrainerCallback

    class TimeBudget(TrainerCallback):
        def __init__(self):
            self.start: float | None = None

        def _lr(self, step: int) -> float:
            elapsed = time.time() - (self.start or time.time())
            frac = min(1.0, elapsed / seconds)
            warm = min(1.0, (step + 1) / max(1, warmup_steps))
            return peak_lr * warm * 0.5 * (1.0 + math.cos(math.pi * frac))

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.time()

        def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
            # runs after the previous step's scheduler update, so this lr is the one used
            if optimizer is not None:
                for group in optimizer.param_groups:
                    group["lr"] = self._lr(state.global_step)

        def on_step_end(self, args, state, control, lr_scheduler=None, **kwargs):
            if lr_scheduler is not None and hasattr(lr_scheduler, "_last_lr"):
                # so the logged learning rate is the one this callback applies
                lr_scheduler._last_lr = [self._lr(state.global_step)] * len(lr_scheduler._last_lr)
            if time.time() - (self.start or time.time()) >= seconds:
                control.should_training_stop = True

    return TimeBudget()


def calibrate_tokens_per_second(model_dir: Path, examples, n: int = 3) -> float:
    """Forward + backward + AdamW step on a few conversations; tokens per second after a warm-up."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    tokens, spent = 0, 0.0
    for i, ex in enumerate(examples[: n + 1]):
        t = time.time()
        out = model(input_ids=torch.tensor([ex.input_ids]), labels=torch.tensor([ex.labels]))
        out.loss.backward()
        opt.step()
        opt.zero_grad()
        if i:  # the first step pays one-off costs
            tokens += len(ex.input_ids)
            spent += time.time() - t
    return tokens / max(spent, 1e-6)


def train_demo(settings: Settings, out_dir: Path | None = None, config: DemoConfig | None = None) -> FinetuneResult:
    from transformers import AutoTokenizer

    from train.dataset import build_examples

    config = config or DemoConfig()
    data_dir = settings.require_data_dir()
    out_dir = Path(out_dir or settings.demo_model_dir)
    run_dir = settings.runs_dir / "demo"
    base_dir = run_dir / "base"
    if not (base_dir / "config.json").exists():  # reuse on resume: same tokenizer and init
        print("building the tiny model and its tokenizer …", flush=True)
        build_tiny_model(base_dir, config.tiny, data_dir=data_dir)
    traces = s1_traces(settings.sgd_dir())
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    examples, report = build_examples(tokenizer, traces, default_tools())
    steps = config.max_steps
    callbacks = []
    if steps is None:
        tps = calibrate_tokens_per_second(base_dir, examples)
        epoch_s = report.tokens / tps
        print(f"calibration: {tps:.0f} tokens/s, ~{epoch_s / 60:.1f} min per epoch; training for "
              f"{config.minutes:g} min (learning rate scheduled by time)", flush=True)
        # the time budget stops training; this bound (≈1.5× the calibrated estimate) sizes the progress bar
        steps = max(20, int(1.5 * config.minutes * 60 / epoch_s * len(examples) / config.grad_accumulation))
        resume = last_checkpoint(run_dir)
        if resume:  # a resumed run continues counting from the checkpoint's step
            steps += int(resume.rsplit("-", 1)[1])
        callbacks.append(time_budget_callback(config.minutes * 60, config.lr, config.warmup_steps))
    ft = FinetuneConfig(
        model=str(base_dir),
        method="full",
        lr=config.lr,
        warmup_steps=config.warmup_steps,
        lr_scheduler="cosine" if not callbacks else "constant",
        weight_decay=0.01,
        max_steps=steps,
        batch_size=1,
        grad_accumulation=config.grad_accumulation,
        max_length=config.tiny.max_positions,
        seed=config.seed,
        save_steps=25,
        logging_steps=5,
    )
    result = finetune(ft, traces, run_dir, callbacks=callbacks)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(result.output_dir, tmp)
    (tmp / "demo.json").write_text(json.dumps({"config": config.model_dump(), "metrics": result.metrics}, indent=2, default=str))
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    print(f"demo model written to {out_dir}")
    return FinetuneResult(out_dir, out_dir, result.metrics)
