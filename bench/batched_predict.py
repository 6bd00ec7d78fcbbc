"""Batched vs one-at-a-time prediction throughput for `resto eval run`, same model and rows, one run.

    RESTO_DATA_DIR=../shared/data OMP_NUM_THREADS=2 .venv/bin/python bench/batched_predict.py \
        [--model DIR] [--rows 24] [--batch-size 8] [--max-new-tokens 24] [--device cpu]

Without --model a ~4M-parameter random Qwen3 (`agent.tiny`, the former single demo model's size) is built in a
temporary directory. Rows are the first expanded rows of the benchmark's S1 test set. Both passes
use `eval.predict.HFPredictor` (left-padded greedy `generate`); the first is batch size 1, the
second --batch-size. It checks the two passes produce the same predictions and prints rows/s of
each and the ratio batched / one-at-a-time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.settings import Settings  # noqa: E402
from eval.expand import expand_file  # noqa: E402
from eval.predict import HFPredictor, load_hf_model  # noqa: E402


def timed(predictor: HFPredictor, conversations: list) -> tuple[list[str], float, int]:
    predictor.generated_tokens = 0
    start = time.perf_counter()
    out = predictor.predict(conversations)
    return out, time.perf_counter() - start, predictor.generated_tokens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model directory (default: a freshly built ~4M-parameter tiny Qwen3)")
    parser.add_argument("--rows", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()

    test = Settings().benchmark_dir() / "scenario-1-baseline" / "tft" / "test.jsonl"
    rows = expand_file(test).rows[: args.rows]
    conversations = [json.loads(r.question) for r in rows]
    model_dir = args.model
    if model_dir is None:
        from agent.tiny import TinyConfig, build_tiny_model

        model_dir = str(build_tiny_model(tempfile.mkdtemp(prefix="bench-tiny-"), TinyConfig()))
    model, tokenizer = load_hf_model(model_dir, device=args.device)
    one = HFPredictor(model, tokenizer, batch_size=1, max_new_tokens=args.max_new_tokens)
    many = HFPredictor(model, tokenizer, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens)
    one.predict(conversations[:1])  # warm-up (first-call allocations)

    single, t_single, tok_single = timed(one, conversations)
    batched, t_batched, tok_batched = timed(many, conversations)
    same = sum(a == b for a, b in zip(single, batched, strict=True))
    print(f"model: {model_dir} on {model.device}; rows: {len(rows)}; max_new_tokens: {args.max_new_tokens}")
    print(
        f"one at a time : {t_single:7.2f}s  {len(rows) / t_single:6.2f} rows/s  "
        f"{tok_single / t_single:7.1f} tok/s"
    )
    print(
        f"batch size {args.batch_size:<3}: {t_batched:7.2f}s  {len(rows) / t_batched:6.2f} rows/s  "
        f"{tok_batched / t_batched:7.1f} tok/s"
    )
    print(f"identical predictions: {same}/{len(rows)}")
    print(f"throughput ratio (batched / one-at-a-time): {t_single / t_batched:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
