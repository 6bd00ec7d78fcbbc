"""The report of one evaluation run: report.md, report.json, scored.jsonl and a PNG bar chart.

report.md holds the metrics table (with the parse rate), the per-function breakdown, the
function-name confusion matrix, the per-argument value accuracy (eval.arguments) and the worst rows (lowest judge score, then staged_tool_call, then rouge), so a reader
sees at a glance where a model fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eval.arguments import argument_lines
from eval.metrics import JUDGE_METRIC
from eval.score import ScoreResult
from eval.unbacked import unbacked_lines


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cell(text: str, code: bool = False) -> str:
    """A markdown table cell; `code` shows it as a code span (tool calls contain <tool_call> tags)."""
    text = _short(text).replace("|", "\\|")
    if code and text:
        return "`" + text.replace("`", "'") + "`"
    return text


def worst_rows(result: ScoreResult, n: int = 10) -> list[dict[str, Any]]:
    def key(row: dict[str, Any]) -> tuple:
        judge = row.get(JUDGE_METRIC)
        return (judge if judge is not None else 2.0, row["staged_tool_call"], row["rouge"])

    return sorted(result.rows, key=key)[:n]


def last_user_text(question: str) -> str:
    try:
        messages = json.loads(question)
    except json.JSONDecodeError:
        return ""
    for msg in reversed(messages):
        if msg.get("role") == "user":
            return msg.get("content") or ""
    return ""


def render_markdown(result: ScoreResult, meta: dict[str, Any], n_worst: int = 10) -> str:
    lines = [f"# Evaluation report: {meta.get('label') or meta.get('model') or 'run'}", ""]
    for key in (
        "model",
        "adapter",
        "endpoint",
        "test",
        "scenario",
        "pipeline",
        "rows",
        "batch_size",
        "seconds",
    ):
        if meta.get(key) not in (None, ""):
            lines.append(f"- {key}: `{meta[key]}`")
    if result.judge:
        j = result.judge
        lines.append(
            f"- judge: `{j['name']}` — scored {j['scored']}, unparseable {j['unparseable']} (excluded), "
            f"failed {j['failed']} (excluded), from cache {j.get('cached', 0)}"
        )
    lines += ["", "## Metrics", "", "| metric | score |", "| --- | --- |"]
    for metric in result.metrics:
        lines.append(f"| {metric} | {_fmt(result.summary[metric])} |")
    lines.append(f"| function-name accuracy | {result.function_accuracy:.3f} |")
    lines.append(f"| parse rate | {result.parse_rate:.3f} |")

    lines += ["", "## Per function (by reference function)", ""]
    lines.append("| function | n | " + " | ".join(result.metrics) + " |")
    lines.append("| --- | --- | " + " | ".join("---" for _ in result.metrics) + " |")
    for name, values in result.per_function.items():
        lines.append(
            f"| {name} | {values['n']} | " + " | ".join(_fmt(values[m]) for m in result.metrics) + " |"
        )

    predicted = sorted({p for row in result.confusion.values() for p in row})
    lines += ["", "## Function-name confusion (rows: reference, columns: predicted)", ""]
    lines.append("| reference \\ predicted | " + " | ".join(predicted) + " |")
    lines.append("| --- | " + " | ".join("---" for _ in predicted) + " |")
    for ref in sorted(result.confusion):
        lines.append(
            f"| {ref} | " + " | ".join(str(result.confusion[ref].get(p, 0)) for p in predicted) + " |"
        )

    argument_table = argument_lines(result.arguments)
    if argument_table:
        lines += ["", "## Argument values (rows whose predicted function is the reference's)", "", *argument_table]

    unbacked_table = unbacked_lines(result.unbacked)
    if unbacked_table:
        lines += ["", "## Replies naming a restaurant the conversation never gave (eval.unbacked)", "", *unbacked_table]

    lines += ["", f"## Worst {n_worst} rows", ""]
    lines.append("| # | last user message | reference | prediction | staged | rouge | judge |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    for i, row in enumerate(worst_rows(result, n_worst), start=1):
        lines.append(
            f"| {i} | {_cell(last_user_text(row['question']))} | {_cell(row['answer'], True)} | "
            f"{_cell(row['prediction'], True) or '(empty)'} | "
            f"{row['staged_tool_call']:.2f} | {row['rouge']:.2f} | "
            f"{_fmt(row.get(JUDGE_METRIC))} |"
        )
    return "\n".join(lines) + "\n"


def bar_chart(result: ScoreResult, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    names = list(result.metrics) + ["function accuracy"]
    values = [result.summary[m] or 0.0 for m in result.metrics] + [result.function_accuracy]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    bars = ax.bar(names, values, color="#4C72B0")
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.bar_label(bars, labels=[f"{v:.3f}" for v in values], fontsize=8)
    ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_report(result: ScoreResult, out_dir: str | Path, meta: dict[str, Any]) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "scored": out / "scored.jsonl",
        "json": out / "report.json",
        "markdown": out / "report.md",
        "chart": out / "metrics.png",
    }
    with paths["scored"].open("w", encoding="utf-8") as fh:
        for row in result.rows:
            fh.write(json.dumps(row) + "\n")
    paths["json"].write_text(json.dumps({"meta": meta, **result.to_json()}, indent=2))
    paths["markdown"].write_text(render_markdown(result, meta))
    bar_chart(result, paths["chart"], meta.get("label") or meta.get("model") or "evaluation")
    return paths
