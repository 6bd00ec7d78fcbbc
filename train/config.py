"""Training configuration: pydantic models validated from YAML.

A `resto train direct CONFIG` file accepts the TFT benchmark's `config.yaml` keys as they are
(`base`, `trace_processing`, `synthgen`, `evaluation`; kept and recorded, mostly informative for
Direct training) plus ours:

    base: {student_model_name: Qwen3-1.7B}      # → model Qwen/Qwen3-1.7B unless finetune.model is set
    traces: traces.jsonl                         # a traces file (relative to this file), or
    scenario: {name: s1, seed: 0}                #   a scenario regenerated from SGD (needs the data dir)
    test: test.jsonl                             # optional: benchmark rows for the eval report
    finetune: {method: lora, epochs: 3, lr: 2e-4, ...}   # FinetuneConfig below
    run_dir: runs/direct-s1                      # optional; default <RESTO_HOME>/runs/direct-<time>
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

# The benchmark names its student without an org; these are the hub ids they stand for.
STUDENT_HUB_IDS = {"Qwen3-1.7B": "Qwen/Qwen3-1.7B", "Qwen3-0.6B": "Qwen/Qwen3-0.6B", "Qwen3-4B": "Qwen/Qwen3-4B"}

Decay = Annotated[float, Field(gt=0, lt=1)]  # an EMA decay (train.ema)


def check_noise_or_context_loss(context_noise: float, context_weight: float) -> None:
    """The context loss predicts the input tokens themselves, which context noise would replace."""
    if context_noise > 0 and context_weight > 0:
        raise ValueError("context_noise and context_weight cannot both be on (the context loss would learn the noise)")


class FinetuneConfig(BaseModel):
    """Supervised fine-tuning of a causal LM on whole conversations (loss on assistant calls only)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(default="Qwen/Qwen3-1.7B", description="Base model: hub id or local directory.")
    tokenizer: str | None = Field(default=None, description="Tokenizer path/id; default: the model's.")
    method: Literal["lora", "qlora", "full"] = Field(
        default="lora",
        description="`lora` (adapters on all linear layers), `qlora` (4-bit base via bitsandbytes, GPU only), "
        "`full` (every weight; for tiny models trained from scratch).",
    )
    lora_r: int = Field(default=16, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(default=32, ge=1, description="LoRA alpha (scale = alpha / r).")
    lora_dropout: float = Field(default=0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA path.")
    lora_target_modules: list[str] | str = Field(
        default="all-linear", description="Module names to adapt, or `all-linear` (every linear layer but the head)."
    )
    lr: float = Field(default=2e-4, gt=0, description="Peak learning rate.")
    lr_scheduler: str = Field(default="cosine", description="transformers scheduler name (cosine, linear, constant…).")
    warmup_steps: int = Field(default=0, ge=0, description="Linear warm-up steps.")
    weight_decay: float = Field(default=0.0, ge=0)
    epochs: float = Field(default=3.0, gt=0, description="Passes over the training conversations.")
    max_steps: int = Field(default=-1, description="Optimizer steps; > 0 overrides epochs.")
    batch_size: int = Field(default=1, ge=1, description="Conversations per device per step.")
    grad_accumulation: int = Field(default=8, ge=1, description="Micro-batches per optimizer step.")
    max_length: int = Field(default=8192, ge=16, description="Longer rendered conversations are dropped (reported).")
    seed: int = Field(default=0)
    save_steps: int = Field(default=100, ge=1, description="Checkpoint every N optimizer steps.")
    save_total_limit: int = Field(default=2, ge=1, description="Checkpoints kept (older ones are deleted).")
    logging_steps: int = Field(default=10, ge=1)
    gradient_checkpointing: bool = Field(default=False, description="Trade compute for memory.")
    share_prefix: bool = Field(
        default=True,
        description="Run the token prefix a batch's conversations share (the system prompt) once per batch "
        "and only the assistant positions through the LM head; same loss and gradients, less compute "
        "(train.prefix_sharing). Off under gradient checkpointing or several processes.",
    )
    decision_weight: float = Field(
        default=1.0,
        gt=0,
        description="Loss weight of the tokens that name the function and its argument keys (train.decision_tokens); "
        "1 = every supervised token counts the same.",
    )
    context_weight: float = Field(
        default=0.0,
        ge=0,
        description="Auxiliary loss weight of the user and tool-result tokens (train.context_tokens): teaches a "
        "model trained from scratch to copy from its context. 0 = loss on the assistant calls only. The "
        "labels, the mask check and evaluation are unchanged.",
    )
    context_noise: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="Each epoch, replace every user-text and tool-result token with this probability by a "
        "random token (train.token_noise): word dropout, so decisions cannot hang on the exact words of "
        "the training conversations. Assistant calls, labels and evaluation are unchanged. 0 = off.",
    )
    state_weight: float = Field(
        default=0.0,
        ge=0,
        description="Weight of the slot-state tagging loss (train.slot_state): SGD's slot spans and dialogue "
        "states as targets of tag tokens on the user turns. Full fine-tuning only; the traces must carry the "
        "annotations (attach_slot_state). 0 = off.",
    )
    dropout: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="Residual dropout while training (train.dropout): on the token embeddings and each block's "
        "attention and MLP outputs, nanoGPT-style, for models trained from scratch on little data. Forward "
        "hooks, so the saved model and inference are unchanged. 0 = off.",
    )
    ema_decay: Decay | None = Field(
        default=None,
        description="Also keep an exponential moving average of the trained weights with this decay (e.g. "
        "0.998 ≈ the last 500 steps) and save it to the run's ema/ beside final/ (train.ema).",
    )
    group_by_length: bool = Field(
        default=False, description="Batch conversations of similar length together (less padding when batch_size > 1)."
    )
    bf16: bool | Literal["auto"] = Field(
        default="auto",
        description="bf16 mixed precision; auto = on a GPU that has it. `true` also works on a CPU with bf16 "
        "instructions (AVX512-BF16/AMX: 1.33x faster for the demo model in bench/train_throughput.py; much "
        "slower without them). Trained weights stay fp32 under autocast; a frozen LoRA base is loaded in bf16.",
    )
    resume: bool = Field(default=True, description="Resume from the run directory's last checkpoint if any.")
    merge: bool = Field(default=True, description="Merge LoRA adapters into the base and save it (merged/).")
    progress: bool = Field(default=True, description="Show progress bars.")
    tool_result_role: Literal["user", "tool"] = Field(default="user", description="See agent.render.RenderConfig.")

    @model_validator(mode="after")
    def _noise_or_context_loss(self) -> FinetuneConfig:
        check_noise_or_context_loss(self.context_noise, self.context_weight)
        if self.state_weight > 0 and self.method != "full":
            raise ValueError("state_weight needs method: full (it trains new tag rows of the LM head)")
        return self


class ScenarioSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["s1", "s2", "s3", "s4", "s5"]
    seed: int = 0
    published: bool = Field(default=False, description="Read the benchmark's published traces instead of regenerating.")


class DirectConfig(BaseModel):
    """`resto train direct` — fine-tune on raw traces as they are."""

    model_config = ConfigDict(extra="forbid")

    base: dict[str, Any] = Field(default_factory=dict, description="Benchmark `base` (student_model_name…).")
    trace_processing: dict[str, Any] = Field(default_factory=dict, description="Benchmark key (recorded).")
    synthgen: dict[str, Any] = Field(default_factory=dict, description="Benchmark key (recorded).")
    evaluation: dict[str, Any] = Field(default_factory=dict, description="Benchmark key (recorded).")
    traces: str | None = Field(default=None, description="Traces file (context or messages format).")
    scenario: ScenarioSource | None = Field(default=None, description="Or: a scenario's traces.")
    test: str | None = Field(default=None, description="Benchmark test.jsonl for the final eval report.")
    eval_limit: int | None = Field(default=None, description="Score only the first N expanded test rows.")
    finetune: FinetuneConfig = Field(default_factory=FinetuneConfig)
    run_dir: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DirectConfig:
        if (self.traces is None) == (self.scenario is None):
            raise ValueError("give exactly one of `traces` (a file) or `scenario` (s1..s5)")
        return self


def load_yaml(path: str | Path) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the top level must be a mapping")
    return data


def load_direct_config(path: str | Path) -> DirectConfig:
    """Validate a YAML file; relative paths are resolved against the file's folder."""
    path = Path(path)
    data = load_yaml(path)
    ft = data.setdefault("finetune", {}) or {}
    data["finetune"] = ft
    student = (data.get("base") or {}).get("student_model_name")
    if "model" not in ft and student:
        ft["model"] = STUDENT_HUB_IDS.get(student, student)
    cfg = DirectConfig.model_validate(data)
    for field in ("traces", "test", "run_dir"):
        value = getattr(cfg, field)
        if value and not Path(value).is_absolute():
            setattr(cfg, field, str((path.parent / value).resolve()))
    model_path = path.parent / cfg.finetune.model
    if not Path(cfg.finetune.model).is_absolute() and model_path.exists():
        cfg.finetune.model = str(model_path.resolve())
    return cfg
