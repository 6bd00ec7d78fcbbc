"""Score prediction rows (`question`, `answer`, `prediction`) with every benchmark metric.

Adds one float column per metric to each row (`llm-as-a-judge` only with a judge; None where the
verdict was unparseable or the request failed), and aggregates: the mean per metric, the same
per reference function, function-name accuracy, the function-name confusion matrix
(reference → predicted, `(no call)` when the prediction is no call), the parse rate and the
per-argument value accuracy of right-function rows (eval.arguments).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.arguments import argument_accuracy, parse_rate
from eval.judge import Judge, JudgeItem
from eval.metrics import JUDGE_METRIC, TOOL_METRICS, function_name, score_pair

REQUIRED = ("question", "answer", "prediction")


class RowFormatError(ValueError):
    pass


def read_rows(
    path: str | Path, required: tuple[str, ...] = REQUIRED
) -> tuple[list[dict[str, Any]], list[str]]:
    """JSONL rows; a broken line is reported (number + reason) and skipped, never fatal."""
    rows, problems = [], []
    with Path(path).open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"line {number}: not JSON ({exc.msg})")
                continue
            if not isinstance(row, dict):
                problems.append(f"line {number}: not a JSON object")
                continue
            missing = [k for k in required if not isinstance(row.get(k), str)]
            if missing:
                problems.append(f"line {number}: missing string field(s) {', '.join(missing)}")
                continue
            rows.append(row)
    return rows, problems


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


@dataclass
class ScoreResult:
    rows: list[dict[str, Any]]
    metrics: list[str]
    summary: dict[str, float | None]
    per_function: dict[str, dict[str, float | None]]
    function_accuracy: float
    confusion: dict[str, dict[str, int]]
    judge: dict[str, Any] = field(default_factory=dict)  # name, scored, unparseable, failed
    parse_rate: float = 0.0  # predictions the benchmark's parser reads as a call
    arguments: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # eval.arguments
    unbacked: dict[str, dict[str, Any]] = field(default_factory=dict)  # eval.unbacked, when a database is built

    def to_json(self) -> dict[str, Any]:
        return {
            "n": len(self.rows),
            "metrics": self.summary,
            "per_function": self.per_function,
            "function_accuracy": self.function_accuracy,
            "confusion": self.confusion,
            "judge": self.judge,
            "parse_rate": self.parse_rate,
            "arguments": self.arguments,
            "unbacked": self.unbacked,
        }

    def summary_lines(self) -> list[str]:
        lines = [f"rows: {len(self.rows)}"]
        for metric in self.metrics:
            value = self.summary[metric]
            text = "n/a" if value is None else f"{value:.4f}"
            if metric == JUDGE_METRIC:
                j = self.judge
                text += f"  (scored {j['scored']}, unparseable {j['unparseable']}, failed {j['failed']})"
            lines.append(f"{metric}: {text}")
        lines.append(f"function-name accuracy: {self.function_accuracy:.4f}")
        lines.append(f"parse rate: {self.parse_rate:.4f}")
        lines.append(confusion_text(self.confusion))
        return lines


def confusion_text(confusion: dict[str, dict[str, int]]) -> str:
    predicted = sorted({p for row in confusion.values() for p in row})
    width = max([len(x) for x in list(confusion) + predicted] + [10])
    head = "reference \\ predicted".ljust(width + 2) + " ".join(p.rjust(width) for p in predicted)
    lines = [head]
    for ref in sorted(confusion):
        lines.append(
            ref.ljust(width + 2) + " ".join(str(confusion[ref].get(p, 0)).rjust(width) for p in predicted)
        )
    return "\n".join(lines)


def score_rows(rows: list[dict[str, Any]], judge: Judge | None = None) -> ScoreResult:
    scored = []
    for row in rows:
        out = dict(row)
        out.update(score_pair(row["answer"], row["prediction"]))
        scored.append(out)
    metrics = list(TOOL_METRICS)
    judge_info: dict[str, Any] = {}
    if judge is not None:
        items = [JudgeItem(r["question"], r["answer"], r["prediction"]) for r in rows]
        verdicts = judge.judge_many(items)
        for out, verdict in zip(scored, verdicts, strict=True):
            out[JUDGE_METRIC] = verdict.score
            out["judge_raw"] = verdict.raw if verdict.error is None else f"ERROR: {verdict.error}"
        metrics.append(JUDGE_METRIC)
        judge_info = {
            "name": judge.name,
            "scored": sum(1 for v in verdicts if v.score is not None),
            "unparseable": sum(1 for v in verdicts if v.unparseable),
            "failed": sum(1 for v in verdicts if v.error is not None),
            "cached": sum(1 for v in verdicts if v.cached),
        }
    summary = {m: _mean([r[m] for r in scored]) for m in metrics}

    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    confusion: dict[str, Counter] = defaultdict(Counter)
    hits = 0
    for row in scored:
        ref, pred = function_name(row["answer"]), function_name(row["prediction"])
        row["function"], row["predicted_function"] = ref, pred
        groups[ref].append(row)
        confusion[ref][pred] += 1
        hits += ref == pred
    per_function = {
        name: {"n": len(group), **{m: _mean([r[m] for r in group]) for m in metrics}}
        for name, group in sorted(groups.items())
    }
    return ScoreResult(
        rows=scored,
        metrics=metrics,
        summary=summary,
        per_function=per_function,
        function_accuracy=hits / len(scored) if scored else 0.0,
        confusion={ref: dict(counter) for ref, counter in confusion.items()},
        judge=judge_info,
        parse_rate=parse_rate(scored),
        arguments=argument_accuracy(scored),
    )
