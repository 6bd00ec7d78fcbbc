"""RUN_DIR/report.md: per-stage statistics of a TFT run, examples of drops, and the evaluation.

Built only from what the stages wrote (stats.json, items.jsonl), so it can be regenerated at
any time: `write_report(run_dir)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from train.tft.config import STAGES
from train.tft.stage_io import load_stats, read_items

EXAMPLES_PER_STAGE = 3


def _reasons(stats: dict[str, Any]) -> str:
    by = stats.get("dropped_by_reason") or {}
    return ", ".join(f"{code} {n}" for code, n in by.items()) or "—"


def stage_table(run_dir: Path) -> list[str]:
    rows = [
        "| stage | items | kept | dropped | drop reasons | LLM requests | cache hits | retries | failures | time (s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for stage in STAGES:
        s = load_stats(run_dir, stage)
        if s is None:
            rows.append(f"| {stage} | not run | | | | | | | | |")
            continue
        rows.append(
            f"| {stage} | {s['items']} | {s['kept']} | {s['dropped']} | {_reasons(s)} | {s['llm_requests']} "
            f"| {s['cache_hits']} | {s['retries']} | {s['failures']} | {s['time_s']:.1f} |"
        )
    return rows


def drop_examples(run_dir: Path) -> list[str]:
    lines = []
    for stage in STAGES:
        dropped = [i for i in read_items(run_dir / stage / "items.jsonl") if not i.keep][:EXAMPLES_PER_STAGE]
        if dropped:
            lines.append(f"\n**{stage}**\n")
            lines += [f"- `{i.id}`: {i.reason[:300]}" for i in dropped]
    return lines


def eval_section(run_dir: Path) -> list[str]:
    s = load_stats(run_dir, "finetune") or {}
    lines = []
    if s.get("model_dir"):
        lines.append(f"Model: `{s['model_dir']}` — trained on {s.get('train_seeds', 0)} seeds + "
                     f"{s.get('train_synthetic', 0)} synthetic conversations.")
    metrics = s.get("eval_metrics") or {}
    if metrics:
        lines += ["", "| metric | value |", "| --- | --- |"]
        lines += [f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items()]
    if s.get("eval_dir"):
        lines.append(f"\nFull evaluation report: `{s['eval_dir']}/report.md`")
    if s.get("eval_skipped"):
        lines.append(f"\nEvaluation not run: {s['eval_skipped']}")
    return lines


def render(run_dir: Path) -> str:
    run_dir = Path(run_dir)
    parts = [f"# TFT run `{run_dir.name}`", "", "## Stages", "", *stage_table(run_dir)]
    synth = load_stats(run_dir, "synthesize")
    if synth:
        parts += ["", f"Synthesis: {synth.get('valid', 0)} valid of target {synth.get('target', 0)} "
                      f"({'reached' if synth.get('reached_target') else 'NOT reached'})."]
    examples = drop_examples(run_dir)
    if examples:
        parts += ["", "## Examples of dropped items", *examples]
    ev = eval_section(run_dir)
    if ev:
        parts += ["", "## Fine-tune and evaluation", "", *ev]
    return "\n".join(parts) + "\n"


def write_report(run_dir: Path) -> Path:
    path = Path(run_dir) / "report.md"
    path.write_text(render(run_dir))
    return path
