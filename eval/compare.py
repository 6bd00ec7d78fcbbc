"""Compare evaluation runs in one table laid out like the TFT benchmark's (scenario × pipeline).

Each run directory holds the report.json written by `resto eval run` / `resto eval score --out-dir`;
its `meta.scenario` (S1–S5) and `meta.pipeline` (tft, direct, base, …) place it in the table. The
benchmark's published numbers (from its public results) are shown next to ours, with the delta
ours − published, and per scenario the TFT − Direct gap where both exist.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.errors import UserError
from eval.metrics import JUDGE_METRIC

SCENARIOS = {
    "S1": "baseline",
    "S2": "noisy labels",
    "S3": "schema drift",
    "S4": "low data",
    "S5": "trace mixing",
}

# Published results of the TFT benchmark (github.com/distil-labs/distil-tft-benchmarking), as
# listed in shared/README.md: Qwen3-1.7B student, judge gpt-oss-120b.
PUBLISHED: dict[str, dict[tuple[str, str], float]] = {
    JUDGE_METRIC: {
        ("S1", "tft"): 0.866,
        ("S1", "direct"): 0.864,
        ("S2", "tft"): 0.844,
        ("S2", "direct"): 0.721,
        ("S3", "tft"): 0.844,
        ("S3", "direct"): 0.585,
        ("S4", "tft"): 0.852,
        ("S4", "direct"): 0.649,
        ("S5", "tft"): 0.858,
        ("S5", "direct"): 0.694,
    },
    "staged_tool_call": {
        ("S1", "tft"): 0.765,
        ("S2", "tft"): 0.758,
        ("S3", "tft"): 0.748,
        ("S4", "tft"): 0.74,
        ("S4", "direct"): 0.66,
    },
}
# Teacher LLMs on the same test set (judge score), published with the benchmark.
PUBLISHED_TEACHERS = {"GLM-5": 0.835, "Qwen3-235B": 0.768, "MiniMax-M2": 0.762, "DeepSeek-3.2": 0.744}


def normalize_scenario(value: Any) -> str | None:
    """'s1', 'S1', '1', 'scenario-1-baseline', a path containing it → 'S1'; None if unknown."""
    if value is None:
        return None
    match = re.search(r"(?:^|scenario-|[^a-z0-9]s|^s)([1-5])(?:\b|-|_|$)", str(value).lower())
    return f"S{match.group(1)}" if match else None


@dataclass
class Run:
    path: Path
    label: str
    scenario: str
    pipeline: str
    metrics: dict[str, float | None]
    n: int


def load_run(path: str | Path) -> Run:
    path = Path(path)
    report = path / "report.json" if path.is_dir() else path
    if not report.exists():
        raise UserError(f"{path} has no report.json: run `resto eval run … --out {path}` first.")
    try:
        data = json.loads(report.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{report} is not valid JSON ({exc.msg}).") from None
    meta = data.get("meta", {})
    scenario = normalize_scenario(meta.get("scenario")) or normalize_scenario(meta.get("test")) or "?"
    pipeline = str(meta.get("pipeline") or meta.get("label") or path.name).lower()
    return Run(
        report.parent,
        str(meta.get("label") or path.name),
        scenario,
        pipeline,
        dict(data.get("metrics", {})),
        int(data.get("n", 0)),
    )


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _delta(ours: float | None, ref: float | None) -> str:
    if ours is None or ref is None:
        return "—"
    return f"{ours - ref:+.3f}"


def _pipeline_order(pipeline: str) -> tuple[int, str]:
    """TFT first, then Direct (the benchmark's column order), then anything else by name."""
    return ({"tft": 0, "direct": 1}.get(pipeline, 2), pipeline)


def compare_table(runs: list[Run], metric: str = JUDGE_METRIC) -> str:
    """Markdown: one row per scenario, per pipeline ours / published / Δ, then TFT − Direct."""
    published = PUBLISHED.get(metric, {})
    pipelines = sorted({r.pipeline for r in runs} | {p for (_, p) in published}, key=_pipeline_order)
    ours: dict[tuple[str, str], float | None] = {}
    for run in runs:
        ours[(run.scenario, run.pipeline)] = run.metrics.get(metric)
    scenarios = sorted({r.scenario for r in runs} | {s for (s, _) in published})
    head = ["scenario"]
    with_reference = {p for (_, p) in published}  # pipelines the benchmark published numbers for
    for p in pipelines:
        head += [f"{p} (ours)", f"{p} (published)", f"Δ {p}"] if p in with_reference else [f"{p} (ours)"]
    head += ["TFT − Direct (ours)", "TFT − Direct (published)"]
    lines = [
        f"### {metric}",
        "",
        "| " + " | ".join(head) + " |",
        "| " + " | ".join("---" for _ in head) + " |",
    ]
    for s in scenarios:
        cells = [f"{s} {SCENARIOS.get(s, '')}".strip()]
        for p in pipelines:
            o, ref = ours.get((s, p)), published.get((s, p))
            cells += [_fmt(o), _fmt(ref), _delta(o, ref)] if p in with_reference else [_fmt(o)]
        cells += [
            _delta(ours.get((s, "tft")), ours.get((s, "direct"))),
            _delta(published.get((s, "tft")), published.get((s, "direct"))),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def runs_table(runs: list[Run]) -> str:
    metrics = sorted({m for r in runs for m in r.metrics})
    head = ["run", "scenario", "pipeline", "rows", *metrics]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    for r in runs:
        lines.append(
            "| "
            + " | ".join(
                [r.label, r.scenario, r.pipeline, str(r.n), *(_fmt(r.metrics.get(m)) for m in metrics)]
            )
            + " |"
        )
    return "\n".join(lines)


def teachers_table() -> str:
    lines = ["| teacher (published) | llm-as-a-judge |", "| --- | --- |"]
    lines += [f"| {name} | {value:.3f} |" for name, value in PUBLISHED_TEACHERS.items()]
    return "\n".join(lines)


def compare_markdown(
    paths: list[str | Path], metrics: tuple[str, ...] = (JUDGE_METRIC, "staged_tool_call")
) -> str:
    runs = [load_run(p) for p in paths]
    parts = ["## Runs", "", runs_table(runs), ""]
    for metric in metrics:
        parts += [compare_table(runs, metric), ""]
    parts += ["### Published teacher scores (same test set)", "", teachers_table(), ""]
    return "\n".join(parts)
