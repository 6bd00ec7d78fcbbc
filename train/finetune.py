"""Supervised fine-tuning on whole conversations with `transformers.Trainer` (+ `peft` for LoRA).

    from train.finetune import FinetuneConfig, finetune
    result = finetune(FinetuneConfig(model="Qwen/Qwen3-1.7B"), traces, Path("runs/x"))
    result.merged_dir   # a plain model directory: AutoModelForCausalLM.from_pretrained(...) / resto chat --model

What a run does, in `run_dir`:
- `config.json` — the resolved FinetuneConfig; `data.json` — dataset sizes (tokens, supervised tokens)
  and a fingerprint of the tokenized conversations;
- pre-flight: every conversation is rendered with the inference template (`agent.render`) and its loss
  mask checked (`train.dataset`); a bad mask fails the run before any step;
- `checkpoints/checkpoint-N` every `save_steps`; a rerun with the same run_dir resumes from the last
  one exactly (optimizer, scheduler, RNG and data position are restored by the Trainer), and only when
  the checkpoints are of this run: another config or other data fails with what differs (train.resume_guard);
- `metrics.jsonl` — one line per log event (loss, lr, grad norm, epoch, step);
- `final/` — the trained weights (LoRA: the adapter) + tokenizer; `merged/` — LoRA merged into the
  base and saved as a plain model (for full fine-tuning `final/` is already that);
- `metrics.json` — the summary returned as `FinetuneResult.metrics`.

Methods: `lora` on all linear layers (default), `qlora` (4-bit NF4 base via bitsandbytes, needs CUDA),
`full` (tiny models trained from scratch). bf16 is used automatically on GPUs that support it, and on
a CPU with `bf16: true` (autocast; trained weights stay fp32). Batches that share their system prompt
run it once (`share_prefix`), `decision_weight` weighs the function-name and argument-key tokens
in the loss, and `context_weight` adds a language-modelling term on user and tool-result tokens
(for models trained from scratch); all are `train.trainer.ConversationTrainer`, a `compute_loss` override.
`context_noise` replaces user and tool-result tokens at random, afresh each epoch (word dropout,
`train.token_noise`). `state_weight` (full fine-tuning) adds SGD's slot and dialogue-state
annotations as tag targets on the user tokens (`train.slot_state`; the traces must carry them).
`dropout` puts nanoGPT's residual dropout on the model while it trains (`train.dropout`).
Multi-GPU: run the same command under `accelerate launch -m cli.main train direct CONFIG` (DDP, or
FSDP via an accelerate config) — the Trainer picks the launcher's environment up with no code change.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.attention import variable_length_attention
from agent.render import RenderConfig
from agent.trace_io import Trace
from train.config import FinetuneConfig
from train.dataset import PadCollator, TokenizedDataset, build_examples, preflight
from train.dropout import add_residual_dropout
from train.ema import ema_callback
from train.prefix_sharing import PrefixSharingCollator
from train.resume_guard import CONFIG_FILE, FINGERPRINT_KEY, check_resume, data_fingerprint, read_record
from train.slot_state import ensure_tag_tokens
from train.token_noise import NoisyDataset, epoch_callback, replacement_ids
from train.trainer import conversation_trainer_class

__all__ = ["FinetuneConfig", "FinetuneResult", "finetune", "load_model", "default_tools"]


@dataclass
class FinetuneResult:
    output_dir: Path  # final/ : adapter (LoRA) or full weights, + tokenizer
    merged_dir: Path | None  # a plain model directory ready for from_pretrained
    metrics: dict[str, Any] = field(default_factory=dict)


def default_tools() -> list[dict]:
    from agent.tools import tool_schemas

    return tool_schemas()


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _use_bf16(config: FinetuneConfig) -> bool:
    import torch

    if config.bf16 == "auto":
        return _cuda() and torch.cuda.is_bf16_supported()
    return bool(config.bf16)


def _weight_dtype(config: FinetuneConfig):
    """bf16 for a frozen base (LoRA/QLoRA) under bf16; fp32 for weights that are trained (`full`):
    the optimizer needs fp32 master weights, and bf16 then comes from autocast around the forward,
    which is also how bf16 runs on a CPU (`bf16: true` with `use_cpu`)."""
    import torch

    return torch.bfloat16 if _use_bf16(config) and config.method != "full" else torch.float32


def load_model(config: FinetuneConfig):
    """The model to train: plain (full), with LoRA adapters, or 4-bit + LoRA (qlora)."""
    from transformers import AutoModelForCausalLM

    dtype = _weight_dtype(config)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if config.method == "qlora":
        if not _cuda():
            raise RuntimeError("qlora needs a CUDA GPU (bitsandbytes 4-bit); use method: lora on CPU")
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype, bnb_4bit_use_double_quant=True
        )
    model = AutoModelForCausalLM.from_pretrained(config.model, **kwargs)
    model.config.use_cache = False  # the KV cache is useless in training and conflicts with checkpointing
    if config.method == "full":
        return model
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if config.method == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    elif config.gradient_checkpointing:
        model.enable_input_require_grads()  # checkpointed blocks need an input that requires grad
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.lora_target_modules,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


class MetricsLog:
    """A TrainerCallback appending every log event to metrics.jsonl."""

    def __new__(cls, path: Path):
        from transformers import TrainerCallback

        class _Log(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs:
                    with path.open("a", encoding="utf-8") as fh:
                        fh.write(json.dumps({"step": state.global_step, "time": time.time(), **logs}) + "\n")

        return _Log()


def _training_args(config: FinetuneConfig, run_dir: Path, has_eval: bool, **overrides: Any):
    from transformers import TrainingArguments

    kwargs: dict[str, Any] = dict(
        output_dir=str(run_dir / "checkpoints"),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accumulation,
        learning_rate=config.lr,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        logging_steps=config.logging_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        eval_strategy="epoch" if has_eval else "no",
        seed=config.seed,
        data_seed=config.seed,
        bf16=_use_bf16(config),
        use_cpu=not _cuda(),
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        activation_checkpointing=config.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if config.gradient_checkpointing else None,
        report_to="none",
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=not config.progress,
    )
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


def _save(trainer: Any, tokenizer: Any, config: FinetuneConfig, folder: Path) -> None:
    """The trained weights (LoRA: the adapter) and the tokenizer; full models ready to generate."""
    trainer.save_model(str(folder))
    tokenizer.save_pretrained(folder)
    if config.method == "full":
        trainer.model.config.use_cache = True
        trainer.model.save_pretrained(folder)


def last_checkpoint(run_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    folder = run_dir / "checkpoints"
    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def merge_adapter(config: FinetuneConfig, adapter_dir: Path, out_dir: Path, tokenizer: Any) -> Path:
    """Load the base as training did, apply the adapter, merge and save a plain model."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(config.model, dtype=_weight_dtype(config))
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    merged.config.use_cache = True
    merged.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def finetune(
    config: FinetuneConfig,
    train_traces: list[Trace],
    run_dir: Path,
    eval_traces: list[Trace] | None = None,
    *,
    tools: list[dict] | None = None,
    render: RenderConfig | None = None,
    callbacks: list[Any] | None = None,
    records: dict[str, str] | None = None,
) -> FinetuneResult:
    """Train on whole conversations (loss on assistant calls only); see the module docstring.
    `records` are more files that describe the run (name → text, e.g. `resto train direct`'s resolved
    direct.yaml), written beside config.json once the directory is known to be this run's."""
    from transformers import AutoTokenizer

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    previous = read_record(run_dir)  # before this run's config and data records replace it
    resume = last_checkpoint(run_dir) if config.resume else None
    tools = default_tools() if tools is None else tools
    render = render or RenderConfig(tool_result_role=config.tool_result_role)

    tokenizer = AutoTokenizer.from_pretrained(config.tokenizer or config.model)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tag_ids = ensure_tag_tokens(tokenizer) if config.state_weight > 0 else None
    examples, report = build_examples(
        tokenizer, train_traces, tools, render, config.max_length, config.decision_weight, config.context_weight,
        context_noise=config.context_noise > 0, slot_state=tag_ids is not None,
    )
    tagged = sum(1 for ex in examples if ex.state)
    tagged_tokens = sum(len(ex.state or ()) for ex in examples)
    if tag_ids is not None and not tagged:
        raise ValueError(
            "state_weight > 0 but no conversation carries slot-state annotations "
            "(train.slot_state.attach_slot_state: traces converted from SGD dialogues)"
        )
    preflight(tokenizer, examples)  # fails the run on any bad mask, before loading the model
    fingerprint = data_fingerprint(examples)
    if resume:
        check_resume(run_dir, config, fingerprint, previous, resume)  # another run's checkpoints: refuse
    (run_dir / CONFIG_FILE).write_text(config.model_dump_json(indent=2))
    for name, text in (records or {}).items():
        (run_dir / name).write_text(text)
    eval_ds = None
    if eval_traces:
        eval_examples, _ = build_examples(tokenizer, eval_traces, tools, render, config.max_length)
        eval_ds = TokenizedDataset(eval_examples) if eval_examples else None
    data = {
        "conversations": len(train_traces),
        "examples": report.examples,
        "tokens": report.tokens,
        "supervised_tokens": report.supervised_tokens,
        "dropped_too_long": len(report.too_long),
        "longest": report.longest,
        **({"slot_state_conversations": tagged, "slot_state_tokens": tagged_tokens} if tag_ids is not None else {}),
        FINGERPRINT_KEY: fingerprint,
    }
    (run_dir / "data.json").write_text(json.dumps(data, indent=2))
    if config.progress:
        print(f"training data: {report.summary()}")

    model = load_model(config)
    if tag_ids is not None and model.get_input_embeddings().num_embeddings < len(tokenizer):
        model.resize_token_embeddings(len(tokenizer))  # rows for the tag tokens (saved with the model)
    add_residual_dropout(model, config.dropout)  # training-mode hooks only; nothing of it is saved
    ema = ema_callback(config.ema_decay, resume) if config.ema_decay else None
    # the batch says which loss runs (train.trainer): shared prefix, weights, or the Trainer's own
    sharing = config.share_prefix and config.batch_size > 1
    collator = (PrefixSharingCollator if sharing else PadCollator)(tokenizer.pad_token_id)
    train_ds = TokenizedDataset(examples)
    extra_callbacks = [ema] if ema else []
    if config.context_noise > 0:
        train_ds = NoisyDataset(examples, config.context_noise, replacement_ids(tokenizer), config.seed)
        extra_callbacks.append(epoch_callback(train_ds))
    trainer = conversation_trainer_class()(
        model=model,
        args=_training_args(config, run_dir, eval_ds is not None),
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        data_collator=collator,
        processing_class=tokenizer,
        callbacks=[MetricsLog(run_dir / "metrics.jsonl"), *(callbacks or []), *extra_callbacks],
    )
    if tag_ids is not None:
        trainer.state_loss = (tag_ids, config.state_weight)
    if resume and config.progress:
        print(f"resuming from {resume}")
    started = time.time()
    # batches of whole conversations differ in length; cuDNN attention would plan each one (agent.attention)
    with variable_length_attention():
        output = trainer.train(resume_from_checkpoint=resume)
    metrics: dict[str, Any] = {**output.metrics, **data, "global_step": trainer.state.global_step}
    metrics["resumed_from"] = resume
    metrics["wall_s"] = time.time() - started
    if eval_ds is not None:
        with variable_length_attention():
            metrics.update(trainer.evaluate())

    final = run_dir / "final"
    _save(trainer, tokenizer, config, final)
    if ema is not None:
        ema.swap_into(trainer.model)
        _save(trainer, tokenizer, config, run_dir / "ema")
        ema.swap_into(trainer.model)
    merged_dir: Path | None = final
    if config.method != "full":
        merged_dir = merge_adapter(config, final, run_dir / "merged", tokenizer) if config.merge else None
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    return FinetuneResult(final, merged_dir, metrics)
