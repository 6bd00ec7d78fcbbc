"""The offline demo model: two 1.7M-parameter Qwen3s trained from scratch on CPU on the S1 traces,
shipped as one ensemble.

    resto model demo [--epochs 8.5 | --minutes M | --steps N] [--out DIR] [--members 2] [--batch-size 2 --lr 2e-3 --augment 0 --seed 0]
                     [--decision-weight 1] [--context-weight 0] [--context-noise 0] [--ema 0.998]
                     [--state-weight 0] [--weight-decay 0.01] [--tokenizer words|lines --vocab 2048]
                     [--bf16 auto|on|off] [--layers 3 --hidden 192]

Builds the tiny architecture and a BPE tokenizer (`agent.tiny`) trained on SGD text and on the S1
conversations rendered as the model reads them, then trains every weight (`train.finetune`, method
`full`) for 8.5 epochs on the 327 S1 conversations (optionally plus `--augment N` entity-swapped
copies of each, `train.augment`: other cities, cuisines and restaurant names). Batches of
conversations run their shared system prompt once (`train.prefix_sharing`). A short calibration
times fp32 and bf16 autocast side by side and keeps the faster (bf16 where the CPU has AVX512-BF16
or AMX); `--decision-weight W` weighs function-name and argument-key tokens W times in the loss
(`train.decision_tokens`); `--context-weight C` adds a loss on user and tool-result tokens
(`train.context_tokens`); `--context-noise P` replaces user and tool-result tokens at random, afresh
each epoch (word dropout, `train.token_noise`); `--state-weight S` adds SGD's slot and
dialogue-state annotations as tag targets on the user turns (`train.slot_state`); `--ema D` (default 0.998; `--ema 0` = off) ships the moving average of the
weights (`train.ema`). `--members N` (default 2) trains N models at once, seeds seed…seed+N-1 with
the cores split between them, and ships them as one ensemble that averages their log-probabilities
(`train.demo_members`, `agent.ensemble`); `--members 1` trains one model.

How long: 8.5 epochs (`--epochs`) by default, a cosine learning rate over the steps. That is what the
recipe was measured at: the default pair takes 32-34 minutes on a 2-core AVX2-only CPU, one 3.7M model
(`--members 1 --layers 4 --hidden 256`) ~20 minutes with AVX512-BF16 and ~34 with AVX2, where 20
minutes give only ~5 epochs and a weaker model (docs/demo-model.md); the calibration prints the
estimate for this CPU (each member's) before training starts. `--minutes M` trains for a wall-clock budget instead
(the learning rate follows a cosine over time, so the run ends on time however busy the machine is);
`--steps N` for a fixed step count. The model lands in `settings.demo_model_dir` (`<RESTO_HOME>/models/demo`), where
`resto chat` finds it when no hub model is available. Interrupted? Run the same command again: it
resumes from the last checkpoint in `<RESTO_HOME>/runs/demo` (exactly, by steps; with a fresh budget under
`--minutes`). A command with other settings (another seed or flag) moves that run aside to
`runs/demo.previous-N` and starts afresh (`claim_run_dir`).
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from agent.resolve import DEMO_CARD
from agent.settings import Settings
from agent.tiny import TinyConfig, build_tiny_model, rendered_corpus
from agent.trace_io import Trace
from train.augment import augment
from train.config import Decay, FinetuneConfig, check_noise_or_context_loss
from train.finetune import FinetuneResult, default_tools, finetune, last_checkpoint
from train.restaurants_2 import restaurants_2_traces
from train.sgd_segments import restaurant_segments_traces
from train.sgd_traces import s1_traces

BF16_MIN_GAIN = 1.1  # below this, fp32's extra precision is worth more than the speed
# Timed calibration batches, spread over the length distribution (calibration_examples): with only
# median-length ones the estimate ran ~20% low (27 minutes printed for a 33-minute run, AVX2 CPU).
CALIBRATION_BATCHES = 4
# The default recipe's length: the v4 runs in docs/demo-model.md (20 idle minutes on a CPU with
# AVX512-BF16) reached 7.3-9.0 epochs; a slower CPU given the same minutes gets fewer and scores lower.
DEFAULT_EPOCHS = 8.5
# The default model: two 1.7M-parameter members as one ensemble. They train in one 3.7M model's time
# (a core each) and score higher than one of it: docs/demo-model.md, "Two smaller models as one ensemble".
DEMO_LAYERS, DEMO_HIDDEN, DEMO_MEMBERS = 3, 192, 2
RUN_RECORD = "demo_run.json"  # the config a run directory was started with (claim_run_dir)


class DemoConfig(BaseModel):
    epochs: float = Field(
        default=DEFAULT_EPOCHS,
        gt=0,
        description="Passes over the training conversations (the default budget; cosine learning rate over the steps). "
        "The same on every CPU; only the time differs (the default pair: 32-34 min on a 2-core AVX2-only CPU; "
        "the single 3.7M model: ~20 min with AVX512-BF16, ~34 with AVX2).",
    )
    minutes: float | None = Field(
        default=None,
        gt=0,
        description="A wall-clock budget instead of `epochs`: the learning rate follows a cosine over time and "
        "training stops on time (a slower CPU then trains fewer epochs).",
    )
    tiny: TinyConfig = Field(
        default_factory=lambda: TinyConfig(layers=DEMO_LAYERS, hidden=DEMO_HIDDEN),
        description="Architecture of each member (default 3 layers, hidden 192: 1.7M parameters; "
        "`agent.tiny`'s own default, 4 × 256, has 3.7M).",
    )
    lr: float = Field(default=2e-3, gt=0, description="Peak learning rate.")
    batch_size: int = Field(
        default=2, ge=1, description="Conversations per step: the system prompt they share runs once (train.prefix_sharing)."
    )
    grad_accumulation: int = Field(default=1, ge=1)
    augment_copies: int = Field(
        default=0,
        ge=0,
        description="Entity-swapped copies of each conversation added to the data (train.augment). Off by "
        "default: 3 copies in 20 minutes scored lower (the model sees each decision fewer times).",
    )
    sgd_segments: bool = Field(
        default=False,
        description="Add the restaurant parts of SGD's multi-domain train dialogues (515 conversations, "
        "train.sgd_segments) to the 327 S1 traces.",
    )
    restaurants_2: bool = Field(
        default=False,
        description="Add SGD's single-domain Restaurants_2 dialogues (dev and test splits) mapped onto the "
        "Restaurants_1 schema (129 conversations, train.restaurants_2) to the 327 S1 traces.",
    )
    decision_weight: float = Field(
        default=1.0,
        gt=0,
        description="Loss weight of the tokens that name the function and its argument keys (train.decision_tokens).",
    )
    context_weight: float = Field(
        default=0.0,
        ge=0,
        description="Auxiliary loss weight of user and tool-result tokens (train.context_tokens).",
    )
    context_noise: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="Replace each user-text and tool-result token with this probability, afresh each epoch "
        "(word dropout, train.token_noise).",
    )
    state_weight: float = Field(
        default=0.0,
        ge=0,
        description="Weight of the slot-state tagging loss on user turns (train.slot_state: SGD's slot spans "
        "and dialogue states as tag targets). 0 = off.",
    )
    weight_decay: float = Field(default=0.01, ge=0, description="AdamW weight decay.")
    dropout: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="Residual dropout while training (train.dropout: embeddings, attention and MLP outputs). 0 = off.",
    )
    ema_decay: Decay | None = Field(
        default=0.998,
        description="Ship the exponential moving average of the weights (train.ema; 0.998 ≈ the last 500 of "
        "~1,300 steps) as the demo model; the last weights stay in the run's final/. None = ship the last "
        "weights. In four paired runs the average scored 0.002-0.005 staged above the last weights.",
    )
    warmup_steps: int = 20
    bf16: bool | Literal["auto"] = Field(
        default="auto",
        description="bf16 autocast (fp32 weights). auto: calibration times both precisions on this CPU and "
        f"keeps bf16 when it is at least {BF16_MIN_GAIN}x faster (CPUs with AVX512-BF16/AMX; bench/train_throughput.py compares both).",
    )
    seed: int = 0
    members: int = Field(
        default=DEMO_MEMBERS,
        ge=1,
        le=8,
        description="Train this many models at once (seeds seed, seed+1, …; the cores split between them) "
        "and ship them as one ensemble (agent.ensemble) that averages their log-probabilities at every "
        "decoding step (train.demo_members).",
    )
    max_steps: int | None = Field(default=None, ge=1, description="Fixed step count instead of `epochs` or `minutes`.")

    @model_validator(mode="after")
    def _noise_or_context_loss(self) -> DemoConfig:
        check_noise_or_context_loss(self.context_noise, self.context_weight)  # before any work, not at finetune
        return self


def epoch_steps(epochs: float, conversations: int, per_step: int) -> int:
    """Optimizer steps for `epochs` passes over `conversations`, `per_step` conversations a step."""
    return max(1, math.ceil(epochs * conversations / per_step))


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


def calibrate_conversations_per_second(
    model_dir: Path, examples, batch_size: int, batches: int = CALIBRATION_BATCHES, bf16: bool = False
) -> float:
    """Forward + backward + AdamW step on a few batches the way training runs them (shared prefix,
    bf16 autocast if asked); conversations per second after a warm-up batch (or of the warm-up batch
    itself when there is nothing more)."""
    import contextlib

    import torch
    from transformers import AutoModelForCausalLM

    from train.prefix_sharing import MIN_SHARED_PREFIX, PrefixSharingCollator, prefix_shared_loss

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    collate = PrefixSharingCollator(0)
    done, spent, warm_up = 0, 0.0, (0, 0.0)
    for i in range(batches + 1):  # in calibration_examples' order: the warm-up batch, then the timed ones
        chunk = examples[i * batch_size : (i + 1) * batch_size]
        if not chunk:
            break
        batch = collate([{"input_ids": ex.input_ids, "labels": ex.labels} for ex in chunk])
        t = time.time()
        prefix = int(batch.pop("shared_prefix"))
        with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
            loss = prefix_shared_loss(model, batch, prefix) if prefix >= MIN_SHARED_PREFIX else model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        if i:  # the first batch pays one-off costs
            done += len(chunk)
            spent += time.time() - t
        else:
            warm_up = (len(chunk), time.time() - t)
    if not done:
        done, spent = warm_up
    return done / max(spent, 1e-6)


def calibration_examples(
    tokenizer, traces: list[Trace], batch_size: int, batches: int = CALIBRATION_BATCHES
) -> list:
    """Tokenized examples for `calibrate_conversations_per_second`, in its order: a warm-up batch of
    median-length conversations, then `batches` batches spread over the length distribution (at its
    1/8, 3/8, 5/8 and 7/8 points for four), so their mean cost is an epoch's mean batch cost. Each batch
    holds neighbours in length, as training's length grouping makes them; length is measured on the
    JSON, a close proxy for tokens. Only these are tokenized: `finetune` tokenizes the rest itself."""
    from train.dataset import build_examples

    ranked = sorted(traces, key=lambda t: len(json.dumps(t.messages)))
    if len(ranked) <= (batches + 1) * batch_size:
        chosen = ranked
    else:
        def around(center: int) -> list[Trace]:
            start = min(max(0, center - batch_size // 2), len(ranked) - batch_size)
            return ranked[start : start + batch_size]

        chosen = around(len(ranked) // 2)
        for i in range(batches):
            chosen += around(int((i + 0.5) * len(ranked) / batches))
    examples, _ = build_examples(tokenizer, chosen, default_tools())
    return examples


def choose_precision(model_dir: Path, examples, batch_size: int, bf16: bool | str = "auto") -> tuple[bool, float]:
    """(use bf16, conversations/s): the forced choice, or under "auto" both timed side by side, bf16
    kept only when it is BF16_MIN_GAIN times faster (without bf16 instructions it is far slower)."""
    if bf16 != "auto":
        return bool(bf16), calibrate_conversations_per_second(model_dir, examples, batch_size, bf16=bool(bf16))
    fp32 = calibrate_conversations_per_second(model_dir, examples, batch_size, bf16=False)
    half = calibrate_conversations_per_second(model_dir, examples, batch_size, bf16=True)
    print(f"calibration: fp32 {fp32:.2f}, bf16 autocast {half:.2f} conversations/s", flush=True)
    return (True, half) if half >= BF16_MIN_GAIN * fp32 else (False, fp32)


def extra_sgd_traces(config: DemoConfig, sgd_dir: Path) -> list[Trace]:
    """The SGD conversations the flags add to the S1 traces (none by default)."""
    sources = [
        (config.sgd_segments, restaurant_segments_traces, "restaurant segments of multi-domain SGD dialogues"),
        (config.restaurants_2, restaurants_2_traces, "Restaurants_2 dialogues in the Restaurants_1 schema"),
    ]
    extra: list[Trace] = []
    for wanted, load, label in sources:
        if wanted:
            traces = load(sgd_dir)
            print(f"adding {len(traces)} {label}", flush=True)
            extra += traces
    return extra


def train_demo(settings: Settings, out_dir: Path | None = None, config: DemoConfig | None = None) -> FinetuneResult:
    config = config or DemoConfig()
    out_dir = Path(out_dir or settings.demo_model_dir)
    run_dir = settings.runs_dir / "demo"
    claim_run_dir(run_dir, config)
    build_base(settings, config, run_dir / "base")
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if config.members == 1:
        shipped, metrics = train_one(settings, config, run_dir)
        shutil.copytree(shipped, tmp)
    else:
        from agent.ensemble import build_ensemble_dir
        from train.demo_members import train_members

        shipped_dirs, member_metrics = train_members(settings, config, run_dir)
        build_ensemble_dir(tmp, shipped_dirs, tokenizer_dir=run_dir / "base")
        metrics = {"members": member_metrics}
    # "decoding": the chat's default for this model (agent.resolve.declares_grounded). Free, it books cities
    # and names it makes up; grounded, it reached 8-12 of the 34 closed-loop tasks instead of 1-3 (README)
    card = {"config": config.model_dump(), "metrics": metrics, "decoding": "grounded"}
    (tmp / DEMO_CARD).write_text(json.dumps(card, indent=2, default=str))
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    print(f"demo model written to {out_dir}")
    return FinetuneResult(out_dir, out_dir, metrics)


def claim_run_dir(run_dir: Path, config: DemoConfig) -> None:
    """Resume `run_dir` only when it holds a run of this very config. A run of other settings (another
    seed, flag or default: a 4 × 256 run from before the pair became the default) is moved aside to
    `<run_dir>.previous-N`, not deleted, so its checkpoints and base never leak into this run."""
    wanted = config.model_dump(mode="json")
    record = run_dir / RUN_RECORD
    if run_dir.is_dir() and any(run_dir.iterdir()):
        try:
            same = json.loads(record.read_text()) == wanted
        except (OSError, ValueError):
            same = False  # a run from before the record, or a damaged one: not known to match
        if not same:
            aside = next(p for i in itertools.count(1) if not (p := run_dir.with_name(f"{run_dir.name}.previous-{i}")).exists())
            run_dir.rename(aside)
            print(f"{run_dir} held a run with other settings; moved it to {aside} and starting afresh", flush=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(wanted, indent=2))


def build_base(settings: Settings, config: DemoConfig, base_dir: Path) -> None:
    """The tokenizer and the random init, once per run directory (reused on resume)."""
    if (base_dir / "config.json").exists():
        return
    print("building the tiny model and its tokenizer …", flush=True)
    traces = s1_traces(settings.sgd_dir())
    texts = rendered_corpus([t.messages for t in traces], default_tools())
    build_tiny_model(base_dir, config.tiny, texts=texts, data_dir=settings.require_data_dir())


def train_one(settings: Settings, config: DemoConfig, run_dir: Path) -> tuple[Path, dict]:
    """Train the model in `run_dir/base` (built already) into `run_dir`; returns the directory to
    ship (the moving average, or the last weights) and the run's metrics."""
    base_dir = run_dir / "base"
    traces = s1_traces(settings.sgd_dir()) + extra_sgd_traces(config, settings.sgd_dir())
    traces = augment(traces, config.augment_copies, seed=config.seed)
    if config.state_weight > 0:
        from train.slot_state import attach_slot_state

        print(f"slot-state targets for {attach_slot_state(traces, settings.sgd_dir())} conversations", flush=True)
    steps = config.max_steps
    per_step = config.batch_size * config.grad_accumulation
    callbacks = []
    bf16 = config.bf16 is True
    if steps is None:
        from transformers import AutoTokenizer

        sample = calibration_examples(AutoTokenizer.from_pretrained(base_dir), traces, config.batch_size)
        bf16, cps = choose_precision(base_dir, sample, config.batch_size, config.bf16)
        epoch_min = len(traces) / cps / 60
        measured = f"calibration: {cps:.2f} conversations/s ({'bf16 autocast' if bf16 else 'fp32'}), ~{epoch_min:.1f} min per epoch"
        if config.minutes is None:
            steps = epoch_steps(config.epochs, len(traces), per_step)
            print(f"{measured}; training for {config.epochs:g} epochs ({steps} steps, "
                  f"~{config.epochs * epoch_min:.0f} min on this machine)", flush=True)
        else:
            print(f"{measured}; training for {config.minutes:g} min (learning rate scheduled by time)", flush=True)
            # the time budget stops training; this bound (≈2× the calibrated estimate) sizes the progress bar
            steps = max(20, int(2 * config.minutes * 60 * cps / per_step))
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
        weight_decay=config.weight_decay,
        max_steps=steps,
        batch_size=config.batch_size,
        grad_accumulation=config.grad_accumulation,
        group_by_length=config.batch_size > 1,
        max_length=config.tiny.max_positions,
        seed=config.seed,
        save_steps=25,
        logging_steps=5,
        bf16=bf16,
        decision_weight=config.decision_weight,
        context_weight=config.context_weight,
        context_noise=config.context_noise,
        state_weight=config.state_weight,
        dropout=config.dropout,
        ema_decay=config.ema_decay,
    )
    result = finetune(ft, traces, run_dir, callbacks=callbacks)
    return (run_dir / "ema" if config.ema_decay else result.output_dir), result.metrics
