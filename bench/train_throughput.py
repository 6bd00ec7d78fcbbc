"""Training throughput: whole-conversation examples vs. expanded per-turn examples.

    RESTO_DATA_DIR=../shared/data .venv/bin/python bench/train_throughput.py [--conversations 6] [--threads 1]

Same model (a ~4M-parameter tiny Qwen3, `agent.tiny` defaults), same conversations (the first N S1
traces when a data dir is set, else built-in ones), same supervised tokens (every assistant call
once): one epoch through `transformers.Trainer` for each layout, measured side by side in one run.
Whole-conversation training renders each conversation once and supervises all its turns in one
forward pass; the per-turn layout repeats the growing prefix for every turn (what a benchmark-style
train.jsonl of expanded rows costs). Prints seconds, tokens processed, supervised tokens/second
and the ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer

    from agent.tiny import TinyConfig, build_tiny_model
    from train.config import FinetuneConfig
    from train.dataset import PadCollator, TokenizedDataset, build_examples, expand_per_turn
    from train.finetune import _training_args, default_tools

    torch.set_num_threads(args.threads)
    data_dir = os.environ.get("RESTO_DATA_DIR")
    if data_dir and Path(data_dir, "sgd").is_dir():
        from train.sgd_traces import s1_traces

        traces = s1_traces(Path(data_dir) / "sgd")[: args.conversations]
        source = f"first {len(traces)} S1 traces"
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "train"))
        from conftest import conversation  # type: ignore[import-not-found]

        traces_msgs = [conversation("San Jose", "Italian", f"Place {i}") for i in range(args.conversations)]
        from agent.trace_io import Trace

        traces = [Trace(m) for m in traces_msgs]
        source = f"{len(traces)} built-in conversations"

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_model(Path(tmp) / "model", TinyConfig(), texts=[str(t.messages) for t in traces])
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        whole, report = build_examples(tokenizer, traces, default_tools())
        per_turn = expand_per_turn(whole)
        config = FinetuneConfig(model=str(model_dir), method="full", batch_size=1, grad_accumulation=1,
                                epochs=1, progress=False, lr=1e-4)
        results = {}
        for name, examples in (("whole conversation", whole), ("per-turn expanded", per_turn)):
            model = AutoModelForCausalLM.from_pretrained(model_dir)
            trainer = Trainer(
                model=model,
                args=_training_args(config, Path(tmp) / name.replace(" ", "_"), False, save_strategy="no"),
                train_dataset=TokenizedDataset(examples),
                data_collator=PadCollator(tokenizer.pad_token_id),
            )
            start = time.perf_counter()
            trainer.train()
            seconds = time.perf_counter() - start
            tokens = sum(len(e.input_ids) for e in examples)
            supervised = sum(e.supervised for e in examples)
            results[name] = (seconds, tokens, supervised, len(examples))

    print(f"data: {source}; model: tiny Qwen3 ({sum(p.numel() for p in model.parameters()) / 1e6:.1f}M params), "
          f"{args.threads} thread(s), batch 1, one epoch")
    print(f"{'layout':22} {'examples':>8} {'tokens':>9} {'supervised':>10} {'seconds':>8} {'sup.tok/s':>9}")
    for name, (seconds, tokens, supervised, n) in results.items():
        print(f"{name:22} {n:8d} {tokens:9d} {supervised:10d} {seconds:8.1f} {supervised / seconds:9.1f}")
    (w, _, sw, _), (p, _, sp, _) = results["whole conversation"], results["per-turn expanded"]
    assert sw == sp, "both layouts must supervise the same tokens"
    print(f"ratio: whole-conversation training is {p / w:.2f}x faster per supervised token")
    return 0


if __name__ == "__main__":
    sys.exit(main())
