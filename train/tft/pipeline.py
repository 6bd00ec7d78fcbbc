"""Stage orchestration of a TFT run: filter → relabel → synthesize → validate → finetune.

    run_pipeline(config, run_dir, stages=None, resume=False)

Each stage reads the kept items of the stage before it from RUN_DIR and writes its own folder
(see stage_io). With `resume=True` a finished stage (its stats.json exists) is skipped and an
unfinished one continues where it stopped; without it, every selected stage starts afresh.
The run's resolved config is saved as RUN_DIR/config.json and RUN_DIR/report.md is rewritten at the
end of every invocation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.trace_io import read_traces
from backend.errors import UserError
from train.tft.config import STAGES, TFTConfig
from train.tft.context import Job, StageContext
from train.tft.filter import run_filter
from train.tft.relabel import run_relabel
from train.tft.report import write_report
from train.tft.stage_io import Item, StageRun, kept_items, load_stats
from train.tft.synthesize import run_synthesize
from train.tft.validate import db_executor, run_validate


def load_inputs(config: TFTConfig) -> tuple[list[Item], str]:
    path = config.traces_path
    if not path.exists():
        raise UserError(f"traces file {path} does not exist (set tft.traces or pass --traces)")
    traces, report = read_traces(path)
    if not traces:
        raise UserError(f"no conversations in {report.summary()}")
    items = [Item(f"t{t.meta.get('line', n):05d}", t.messages, meta={"line": t.meta.get("line")})
             for n, t in enumerate(traces, start=1)]
    return items, report.summary()


def seed_items(config: TFTConfig, run_dir: Path) -> list[Item]:
    """The relabelled traces used as seeds (context for synthesis, and training data)."""
    seeds = sorted(kept_items(run_dir, "relabel"), key=lambda i: i.id)
    cap = config.trace_processing.num_traces_as_training_base
    return seeds[:cap] if cap else seeds


def _require(run_dir: Path, stage: str, for_stage: str) -> None:
    if load_stats(run_dir, stage) is None:
        raise UserError(f"stage {for_stage} needs the output of {stage}: run it first (or add it to --stages)")


def parse_stages(text: str | None) -> list[str]:
    if not text:
        return list(STAGES)
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in STAGES]
    if unknown:
        raise UserError(f"unknown stage(s) {', '.join(unknown)}; stages are {', '.join(STAGES)}")
    return [s for s in STAGES if s in chosen]


def run_pipeline(
    config: TFTConfig,
    run_dir: Path,
    stages: list[str] | None = None,
    resume: bool = False,
    db_url: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(config.model_dump_json(indent=2))
    job = Job.load(config.job_path)
    stats: dict[str, Any] = {}
    for stage in stages or list(STAGES):
        if resume and load_stats(run_dir, stage) is not None:
            log(f"[{stage}] already finished — skipped (delete {run_dir / stage} to redo it)")
            stats[stage] = load_stats(run_dir, stage)
            continue
        ctx = StageContext(config, run_dir, job)
        out = StageRun(run_dir, stage, resume=resume and stage != "validate")
        out.attach(ctx.clients)
        if out.done:
            log(f"[{stage}] resuming: {len(out.done)} items already done")
        try:
            extra = _run_stage(stage, ctx, out, config, run_dir, db_url, log)
            stats[stage] = out.finish(extra=extra)
        finally:
            out.close()
            ctx.close()
        s = stats[stage]
        log(f"[{stage}] kept {s['kept']}, dropped {s['dropped']} {s['dropped_by_reason'] or ''}, "
            f"{s['llm_requests']} LLM requests, {s['cache_hits']} cache hits, {s['time_s']:.1f}s")
    report = write_report(run_dir)
    log(f"report: {report}")
    return stats


def _run_stage(
    stage: str, ctx: StageContext, out: StageRun, config: TFTConfig, run_dir: Path, db_url: str | None, log
) -> dict[str, Any]:
    if stage == "filter":
        inputs, summary = load_inputs(config)
        log(f"[filter] {summary}")
        return run_filter(ctx, inputs, out)
    if stage == "relabel":
        _require(run_dir, "filter", stage)
        return run_relabel(ctx, kept_items(run_dir, "filter"), out)
    if stage == "synthesize":
        _require(run_dir, "relabel", stage)
        seeds = seed_items(config, run_dir)
        if not seeds:
            raise UserError("no trace survived relabelling: nothing to synthesize from (see relabel/items.jsonl)")
        execute = db_executor(db_url, out.dir) if config.tft.execute_calls and db_url else None
        return run_synthesize(ctx, seeds, kept_items(run_dir, "filter"), out, execute)
    if stage == "validate":
        _require(run_dir, "synthesize", stage)
        candidates = sorted(kept_items(run_dir, "synthesize"), key=lambda i: i.id)
        return run_validate(ctx, candidates, seed_items(config, run_dir), out, db_url)
    if stage == "finetune":
        _require(run_dir, "validate", stage)
        from train.tft.finetune import run_finetune  # torch/transformers only when training

        return run_finetune(ctx, seed_items(config, run_dir), kept_items(run_dir, "validate"), out, log)
    raise UserError(f"unknown stage {stage!r}")


def summary(run_dir: Path) -> str:
    return json.dumps({s: load_stats(run_dir, s) for s in STAGES}, indent=2)
