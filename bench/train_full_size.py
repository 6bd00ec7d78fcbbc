"""Training speed and memory on Qwen3-1.7B's shape (random weights): LoRA, LoRA with gradient
checkpointing, QLoRA, whole-conversation vs per-turn examples, and attention without cuDNN (what
`resto train direct` runs, agent.attention) vs PyTorch's default, side by side in one run. For a GPU.

    RESTO_DATA_DIR=../shared/data python bench/train_full_size.py [--conversations 16] [--preset qwen3-1.7b]
    python bench/train_full_size.py --layers 1 --conversations 1     # a CPU smoke run (QLoRA is skipped)

Without CUDA and without --layers it exits with SKIPPED (77), so `make bench` lists it as skipped.

The model is `agent.full_size` (the public shape, random init, bf16 on CUDA) with the project's tiny
tokenizer, so token counts are the tiny tokenizer's (not Qwen's), while speed per
token and memory are the real architecture's. Every layout trains one epoch over the same
conversations (the first N published S1 traces when the data dir has them) through the same code as
`resto train direct` (`train.finetune.load_model` and its TrainingArguments), batch 1, no gradient
accumulation, after one untimed warm-up layout. Printed per layout: seconds, tokens processed,
supervised tokens/s and the peak GPU memory allocated; then the ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run_all import SKIPPED  # noqa: E402  (77: a prerequisite is missing)

S1_TRACES = "tft-benchmark/scenario-1-baseline/tft/traces.jsonl"


def load_traces(n: int) -> tuple[list, str]:
    """The first n published S1 traces, or n built-in conversations without a data dir."""
    from agent.trace_io import Trace, read_traces

    data_dir = os.environ.get("RESTO_DATA_DIR")
    if data_dir and Path(data_dir, S1_TRACES).is_file():
        traces, _ = read_traces(Path(data_dir, S1_TRACES))
        return traces[:n], f"first {min(n, len(traces))} S1 traces"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "train"))
    from conftest import conversation  # type: ignore[import-not-found]

    return [Trace(conversation("San Jose", "Italian", f"Place {i}")) for i in range(n)], f"{n} built-in conversations"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=16)
    parser.add_argument("--preset", default="qwen3-1.7b", help="agent.full_size preset (default qwen3-1.7b)")
    parser.add_argument("--layers", type=int, help="fewer decoder layers than the preset (smoke runs)")
    parser.add_argument("--lora-r", type=int, default=16)
    args = parser.parse_args()

    import torch
    from transformers import AutoTokenizer, Trainer

    from agent.attention import variable_length_attention
    from agent.full_size import build_full_size_model, parameter_count, preset_config
    from agent.tiny import build_tokenizer, rendered_corpus
    from train.config import FinetuneConfig
    from train.dataset import PadCollator, TokenizedDataset, build_examples, expand_per_turn
    from train.finetune import _training_args, default_tools, load_model

    cuda = torch.cuda.is_available()
    if not cuda and not args.layers:
        print("skipped: the full-size model is for a GPU (no CUDA here); --layers 1 runs a CPU smoke test")
        return SKIPPED
    traces, source = load_traces(args.conversations)
    overrides = {"num_hidden_layers": args.layers} if args.layers else {}
    with tempfile.TemporaryDirectory() as tmp:
        texts = rendered_corpus([t.messages for t in traces], default_tools())
        build_tokenizer(Path(tmp) / "tokenizer", texts=texts)
        model_dir = build_full_size_model(Path(tmp) / "full", Path(tmp) / "tokenizer", args.preset, "bf16" if cuda else "fp32",
                                          "cuda" if cuda else "cpu", **overrides)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        whole, _ = build_examples(tokenizer, traces, default_tools())
        per_turn = expand_per_turn(whole)
        layouts = [  # name, examples, method, gradient checkpointing (cuDNN attention: the "cuDNN" layout only)
            ("LoRA, whole conversations", whole, "lora", False),
            ("LoRA, whole, cuDNN attention", whole, "lora", False),
            ("LoRA, per-turn expanded", per_turn, "lora", False),
            ("LoRA + checkpointing", whole, "lora", True),
            ("QLoRA NF4 + checkpointing", whole, "qlora", True),
        ]
        results: dict[str, tuple] = {}
        for i, (name, examples, method, checkpointing) in enumerate([layouts[0], *layouts]):
            if method == "qlora" and not cuda:
                print(f"{name}: skipped (bitsandbytes 4-bit needs CUDA)")
                continue
            warm_up = i == 0
            config = FinetuneConfig(model=str(model_dir), method=method, lora_r=args.lora_r,
                                    lora_alpha=2 * args.lora_r, batch_size=1, grad_accumulation=1, epochs=1,
                                    gradient_checkpointing=checkpointing, progress=False, lr=1e-4)
            model = load_model(config)
            trainer = Trainer(
                model=model,
                args=_training_args(config, Path(tmp) / f"run{i}", False, save_strategy="no"),
                train_dataset=TokenizedDataset(examples[:4] if warm_up else examples),
                data_collator=PadCollator(tokenizer.pad_token_id),
            )
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            with variable_length_attention(enabled="cuDNN" not in name):  # as resto train direct does
                trainer.train()
            if cuda:
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
            if not warm_up:
                tokens = sum(len(e.input_ids) for e in examples)
                results[name] = (len(examples), tokens, sum(e.supervised for e in examples), seconds, peak)
            del trainer, model
            if cuda:
                torch.cuda.empty_cache()

    device = torch.cuda.get_device_name() if cuda else "CPU"
    count = parameter_count(preset_config(args.preset, **overrides))
    print(f"\nmodel: random-init {args.preset} shape ({count / 1e9:.2f}B parameters{', ' + str(args.layers) + ' layers' if args.layers else ''}), "
          f"LoRA r={args.lora_r} on all linear layers, {device}; data: {source}; batch 1, one epoch per layout")
    print(f"{'layout':28} {'examples':>8} {'tokens':>8} {'supervised':>10} {'seconds':>8} {'tokens/s':>9} "
          f"{'sup.tok/s':>9} {'peak GiB':>8}")
    for name, (n, tokens, supervised, seconds, peak) in results.items():
        print(f"{name:28} {n:8d} {tokens:8d} {supervised:10d} {seconds:8.1f} {tokens / seconds:9.0f} "
              f"{supervised / seconds:9.1f} {peak:8.2f}")
    rate = {name: r[2] / r[3] for name, r in results.items()}
    peak = {name: r[4] for name, r in results.items()}
    whole_name, cudnn_name, turn_name, ckpt_name, q_name = (layout[0] for layout in layouts)
    if cuda:
        print(f"ratio: cuDNN attention (PyTorch's default on Hopper) makes a first pass {rate[whole_name] / rate[cudnn_name]:.2f}x "
              "slower (a plan per new length; agent.attention)")
    print(f"ratio: whole-conversation training is {rate[whole_name] / rate[turn_name]:.2f}x faster per supervised "
          "token than per-turn examples")
    print(f"ratio: gradient checkpointing costs {rate[whole_name] / rate[ckpt_name]:.2f}x the time"
          + (f" and takes {peak[ckpt_name] / peak[whole_name]:.2f}x the peak memory" if cuda else ""))
    if q_name in results:
        print(f"ratio: QLoRA takes {peak[q_name] / peak[ckpt_name]:.2f}x the peak memory of bf16 LoRA (both "
              f"checkpointed) at {rate[ckpt_name] / rate[q_name]:.2f}x the time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
