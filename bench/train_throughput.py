"""Training throughput: whole-conversation examples vs. expanded per-turn examples, and batches
whose shared system prompt runs once vs. plain padded batches.

    RESTO_DATA_DIR=../shared/data .venv/bin/python bench/train_throughput.py [--conversations 8] [--batch 4] [--threads 1]

Same model (a ~4M-parameter tiny Qwen3, `agent.tiny` defaults, its tokenizer trained on the rendered
conversations as `resto model demo` does), same conversations (the first N S1 traces when a data dir
is set, else built-in ones), same supervised tokens (every assistant call once): one epoch through
`transformers.Trainer` for each layout, measured side by side in one run.
- whole conversation vs per-turn (batch 1): whole-conversation training renders each conversation
  once and supervises all its turns in one forward pass; the per-turn layout repeats the growing
  prefix for every turn (what a benchmark-style train.jsonl of expanded rows costs).
- shared prefix vs plain (batch `--batch`, grouped by length): `train.prefix_sharing` runs the
  tokens a batch's conversations share (the system prompt and tool schemas) once, and the LM head
  only on supervised positions; the plain batch runs every row in full. Same loss and gradients.
- bf16 autocast vs fp32 (the shared-prefix batches): `FinetuneConfig(bf16=True)` on a CPU keeps
  fp32 weights and runs matmuls in bf16 (fast on CPUs with AVX512-BF16/AMX, slow without; `resto
  model demo` times both and keeps the faster).
Prints seconds, tokens processed, supervised tokens/second and the ratios.
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
    parser.add_argument("--conversations", type=int, default=8)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer

    from agent.tiny import TinyConfig, build_tiny_model, rendered_corpus
    from train.config import FinetuneConfig
    from train.dataset import PadCollator, TokenizedDataset, build_examples, expand_per_turn
    from train.finetune import _training_args, default_tools
    from train.prefix_sharing import PrefixSharingCollator
    from train.trainer import conversation_trainer_class

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
        texts = rendered_corpus([t.messages for t in traces], default_tools())
        model_dir = build_tiny_model(Path(tmp) / "model", TinyConfig(), texts=texts)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        whole, report = build_examples(tokenizer, traces, default_tools())
        per_turn = expand_per_turn(whole)
        pad = tokenizer.pad_token_id
        shared = conversation_trainer_class()
        layouts = [  # name, examples, batch size, trainer class, collator, bf16
            ("whole conversation", whole, 1, Trainer, PadCollator(pad), False),
            ("per-turn expanded", per_turn, 1, Trainer, PadCollator(pad), False),
            (f"batch {args.batch}, plain", whole, args.batch, Trainer, PadCollator(pad), False),
            (f"batch {args.batch}, shared prefix", whole, args.batch, shared, PrefixSharingCollator(pad), False),
            (f"batch {args.batch}, shared, bf16", whole, args.batch, shared, PrefixSharingCollator(pad), True),
        ]
        results = {}
        for name, examples, batch, trainer_class, collator, bf16 in layouts:
            config = FinetuneConfig(model=str(model_dir), method="full", batch_size=batch, grad_accumulation=1,
                                    epochs=1, progress=False, lr=1e-4, group_by_length=batch > 1, bf16=bf16)
            model = AutoModelForCausalLM.from_pretrained(model_dir)
            trainer = trainer_class(
                model=model,
                args=_training_args(config, Path(tmp) / f"run{len(results)}", False, save_strategy="no"),
                train_dataset=TokenizedDataset(examples),
                data_collator=collator,
            )
            start = time.perf_counter()
            trainer.train()
            seconds = time.perf_counter() - start
            tokens = sum(len(e.input_ids) for e in examples)
            supervised = sum(e.supervised for e in examples)
            results[name] = (seconds, tokens, supervised, len(examples))

    print(f"data: {source}; model: tiny Qwen3 ({sum(p.numel() for p in model.parameters()) / 1e6:.1f}M params), "
          f"{args.threads} thread(s), one epoch per layout")
    print(f"{'layout':26} {'examples':>8} {'tokens':>9} {'supervised':>10} {'seconds':>8} {'sup.tok/s':>9}")
    for name, (seconds, tokens, supervised, n) in results.items():
        print(f"{name:26} {n:8d} {tokens:9d} {supervised:10d} {seconds:8.1f} {supervised / seconds:9.1f}")
    (w, _, sw, _), (p, _, sp, _), (plain, *_), (shared, *_), (half, *_) = results.values()
    assert sw == sp, "both layouts must supervise the same tokens"
    print(f"ratio: whole-conversation training is {p / w:.2f}x faster per supervised token than per-turn")
    print(f"ratio: shared-prefix batches are {plain / shared:.2f}x faster than plain batches of {args.batch}")
    print(f"ratio: shared-prefix batches of {args.batch} are {w / shared:.2f}x faster than whole conversations one at a time")
    print(f"ratio: bf16 autocast is {shared / half:.2f}x faster than fp32 (shared-prefix batches of {args.batch})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
