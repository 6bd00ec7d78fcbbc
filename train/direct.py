"""Direct training — the baseline: fine-tune on the raw traces as they are.

    resto train direct CONFIG.yaml

CONFIG is a `train.config.DirectConfig` (the benchmark's config.yaml keys plus ours). The run
directory gets `direct.yaml` (the resolved config), the fine-tuning outputs (`train.finetune`) and,
when `test:` is set, `eval/` — the benchmark metrics of the merged model on the expanded test rows
(`eval` package: report.md, scores.json, predictions.jsonl).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from agent.settings import Settings
from agent.trace_io import Trace, read_traces
from train.config import DirectConfig
from train.finetune import FinetuneResult, finetune


def load_config_traces(config: DirectConfig, settings: Settings) -> list[Trace]:
    """The training traces a config names: a file, or a scenario (regenerated or published)."""
    if config.traces:
        traces, report = read_traces(config.traces)
        if report.skipped:
            print(report.summary())
        return traces
    assert config.scenario is not None
    from train.scenarios import PUBLISHED_DIRS, build_scenario

    if config.scenario.published:
        path = settings.benchmark_dir() / PUBLISHED_DIRS[config.scenario.name] / "tft" / "traces.jsonl"
        traces, _ = read_traces(path)
        return traces
    return build_scenario(config.scenario.name, settings.sgd_dir(), seed=config.scenario.seed)


def evaluate_model(model_dir: Path, test: str | Path, out_dir: Path, limit: int | None = None) -> dict[str, Any]:
    """Benchmark metrics of a local model on expanded test rows (written under out_dir)."""
    from agent.model_loading import load_model
    from eval.expand import expand_file
    from eval.predict import HFPredictor, predict_rows
    from eval.report import write_report
    from eval.score import score_rows

    rows = [r.to_record() for r in expand_file(test).rows]
    rows = rows[:limit] if limit else rows
    loaded = load_model(str(model_dir))
    predictor = HFPredictor(loaded.model, loaded.tokenizer, batch_size=8, max_new_tokens=256,
                            description=str(model_dir))
    start = time.perf_counter()
    predicted, _ = predict_rows(rows, predictor, out_dir / "predictions.jsonl")
    result = score_rows(predicted)
    meta = {"label": out_dir.parent.name, "model": str(model_dir), "test": str(test), "rows": len(rows),
            "pipeline": "direct", "seconds": round(time.perf_counter() - start, 1)}
    write_report(result, out_dir, meta)
    return {**result.summary, "function_accuracy": result.function_accuracy, "rows": len(rows)}


def run_direct(config: DirectConfig, settings: Settings, run_dir: Path | None = None) -> FinetuneResult:
    run_dir = Path(run_dir or config.run_dir or settings.runs_dir / f"direct-{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir.mkdir(parents=True, exist_ok=True)
    traces = load_config_traces(config, settings)
    resolved = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    # written by finetune once the directory is known to be this run's (it refuses another run's checkpoints)
    result = finetune(config.finetune, traces, run_dir, records={"direct.yaml": resolved})
    if config.test:
        if result.merged_dir is None:
            print("no merged model (finetune.merge is off): skipping the eval report")
        else:
            scores = evaluate_model(result.merged_dir, config.test, run_dir / "eval", config.eval_limit)
            result.metrics["eval"] = scores
    return result
