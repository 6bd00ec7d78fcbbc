"""Stage 5, Fine-tune and evaluate: train the student on seeds + surviving synthetic conversations
with TRAIN's fine-tuning (`train.finetune`), then score it on the benchmark's per-turn test rows
with EVAL's pieces (expansion, batched prediction, metrics, report).

Options come from the config: `tft.finetune` (TRAIN's `train.config.FinetuneConfig`) and
`tft.eval`: `test` (a test.jsonl; default `tft.eval_test`, else test.jsonl next to the traces),
`max_rows` (evaluate only the first N expanded rows — for smoke runs), `batch_size`,
`max_new_tokens`, `judge` (true: also score llm-as-a-judge with the config's judge endpoint).
The stage's items.jsonl lists the training set (reason `seed` or `synthetic`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.trace_io import Trace
from train.tft.context import StageContext
from train.tft.stage_io import Item, StageRun


def training_set(seeds: list[Item], synthetic: list[Item], out: StageRun) -> list[Trace]:
    traces = []
    for kind, items in (("seed", seeds), ("synthetic", synthetic)):
        for item in items:
            out.write(Item(item.id, item.messages, keep=True, reason=kind, meta=item.meta))
            traces.append(Trace(item.messages, {"id": item.id, "source": kind}))
    return traces


def _trained_model(result: Any, config: Any) -> tuple[str, str | None]:
    """(model, adapter) to evaluate, from train.finetune's FinetuneResult."""
    if result.merged_dir and Path(result.merged_dir, "config.json").exists():
        return str(result.merged_dir), None
    if Path(result.output_dir, "adapter_config.json").exists():
        return config.model, str(result.output_dir)
    return str(result.output_dir), None


def run_finetune(
    ctx: StageContext, seeds: list[Item], synthetic: list[Item], out: StageRun, log: Callable[[str], None] = print
) -> dict[str, Any]:
    from train.finetune import finetune

    traces = training_set(seeds, synthetic, out)
    if not traces:
        raise ValueError("nothing to train on: no seeds and no valid synthetic conversations")
    ft_config = ctx.config.tft.finetune
    log(f"[finetune] training {ft_config.model} on {len(seeds)} seeds + {len(synthetic)} synthetic conversations")
    # a rerun with the same run dir resumes from the last checkpoint (FinetuneConfig.resume)
    result = finetune(ft_config, traces, out.dir / "model", tools=ctx.job.tools)
    model, adapter = _trained_model(result, ft_config)
    stats: dict[str, Any] = {
        "model_dir": model, "adapter": adapter, "train_seeds": len(seeds), "train_synthetic": len(synthetic),
        "train_metrics": result.metrics,
    }
    stats.update(evaluate(ctx, model, adapter, out.dir / "eval", log))
    return stats


def _test_path(ctx: StageContext) -> Path | None:
    opts = ctx.config.tft.eval
    if opts.get("test"):
        return ctx.config.path(Path(opts["test"]))
    if ctx.config.tft.eval_test:
        return ctx.config.path(ctx.config.tft.eval_test)
    guess = ctx.config.traces_path.parent / "test.jsonl"
    return guess if guess.exists() else None


def evaluate(ctx: StageContext, model: str, adapter: str | None, out_dir: Path, log) -> dict[str, Any]:
    from eval.expand import expand_file
    from eval.predict import HFPredictor, load_hf_model, predict_rows
    from eval.report import write_report
    from eval.score import score_rows

    test = _test_path(ctx)
    if test is None or not test.exists():
        return {"eval_skipped": "no test file (set tft.eval.test)"}
    opts = ctx.config.tft.eval
    expanded = expand_file(test)
    rows = [r.to_record() for r in expanded.rows][: opts.get("max_rows") or None]
    log(f"[eval] {len(rows)} rows from {test}")
    hf_model, tokenizer = load_hf_model(model, adapter=adapter)
    predictor = HFPredictor(hf_model, tokenizer, batch_size=int(opts.get("batch_size", 8)),
                            max_new_tokens=int(opts.get("max_new_tokens", 256)), description="tft")
    predicted, _ = predict_rows(rows, predictor, out_dir / "predictions.jsonl")
    judge = None
    if opts.get("judge"):
        from eval.judge import EndpointJudge, load_rubric

        endpoint = ctx.config.endpoint(ctx.config.judge, ctx.cache_dir)
        judge = EndpointJudge(endpoint, load_rubric(ctx.config.job_path), out_dir / "judge-cache")
    result = score_rows(predicted, judge=judge)
    write_report(result, out_dir, {"label": "tft", "model": model, "adapter": adapter, "test": str(test)})
    return {"eval_dir": str(out_dir), "eval_metrics": {**result.summary, "function_accuracy": result.function_accuracy}}
