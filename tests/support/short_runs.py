"""A few full fine-tuning steps of a tiny model, for tests that compare runs differing in one setting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from train.config import FinetuneConfig
from train.finetune import FinetuneResult, finetune


def short_run(model_dir: Path, traces: list, run_dir: Path, **settings: Any) -> tuple[FinetuneResult, list[float]]:
    """8 steps of batch 2 at a constant 3e-3 (seed 1), logging every step: (result, logged losses)."""
    cfg = FinetuneConfig(
        model=str(model_dir), method="full", lr=3e-3, max_steps=8, batch_size=2, grad_accumulation=1,
        lr_scheduler="constant", progress=False, seed=1, logging_steps=1, **settings,
    )
    result = finetune(cfg, traces, run_dir)
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return result, [r["loss"] for r in rows if "loss" in r]
