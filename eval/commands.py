"""`resto eval …`: score models exactly like the TFT benchmark, and beyond it.

    resto eval expand TEST.jsonl --out ROWS.jsonl          # one row per assistant call (359 on the benchmark)
    resto eval score PRED.jsonl [--out SCORED.jsonl] [--report-dir DIR]
                     [--judge-endpoint URL --judge-model NAME | --judge-model LOCAL_PATH]
    resto eval run (--model PATH_OR_HUB_ID [--adapter DIR] | --endpoint URL [--endpoint-model NAME])
                   --test TEST.jsonl --out DIR [--limit N] [--batch-size B] [--scenario S1 --pipeline tft]
                   [--judge-endpoint URL --judge-model NAME]
    resto eval compare DIR [DIR …] [--out TABLE.md]
    resto eval tasks (--model … | --endpoint …) [--trials 4] [--limit N] --out DIR

`run` is resumable: predictions are appended to DIR/predictions.jsonl row by row and rows already
there are not generated again. See README "Evaluation".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from agent.grounding import HELP as GROUNDED_HELP
from agent.grounding import Gazetteer
from agent.settings import Settings
from backend.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("eval", help="evaluate models like the TFT benchmark (and closed-loop tasks)")
    group = parser.add_subparsers(dest="eval_command", metavar="EVAL_COMMAND")
    parser.set_defaults(func=lambda args, settings: (parser.print_help(), 0)[1])
    _register_expand(group)
    _register_score(group)
    _register_run(group)
    _register_compare(group)
    _register_tasks(group)


# -- shared --------------------------------------------------------------------------------------
def _add_judge_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("judge (llm-as-a-judge; omitted → no judge column)")
    g.add_argument(
        "--judge-endpoint", help="OpenAI-compatible base URL of the judge, e.g. http://host:8000/v1"
    )
    g.add_argument(
        "--judge-model",
        help="model name at the endpoint (the benchmark used gpt-oss-120b), "
        "or a local model path/hub id when no endpoint is given",
    )
    g.add_argument("--judge-api-key", help="API key for the judge endpoint")
    g.add_argument(
        "--judge-rubric",
        type=Path,
        help="job_description.json with llm_as_a_judge_instructions (default: the benchmark's S1)",
    )
    g.add_argument("--judge-concurrency", type=int, default=8, help="judge requests in flight (default 8)")
    g.add_argument("--judge-timeout", type=float, default=120.0, help="seconds per judge request")


def _make_judge(args: argparse.Namespace, settings: Settings):
    if not args.judge_endpoint and not args.judge_model:
        return None
    from eval.judge import load_rubric, make_judge

    rubric_path = args.judge_rubric
    if rubric_path is None:
        rubric_path = settings.benchmark_dir() / "scenario-1-baseline" / "tft" / "job_description.json"
    if not Path(rubric_path).exists():
        raise UserError(f"Judge rubric {rubric_path} not found: pass --judge-rubric job_description.json.")
    try:
        return make_judge(
            endpoint=args.judge_endpoint,
            model=args.judge_model,
            rubric=load_rubric(rubric_path),
            cache_dir=settings.cache_dir / "judge",
            api_key=args.judge_api_key,
            timeout_s=args.judge_timeout,
            max_concurrency=args.judge_concurrency,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _print_summary(result) -> None:
    for line in result.summary_lines():
        print(line)


# -- expand --------------------------------------------------------------------------------------
def _register_expand(group: argparse._SubParsersAction) -> None:
    p = group.add_parser("expand", help="conversations → one row per assistant tool call (benchmark rows)")
    p.add_argument("file", type=Path, help="test.jsonl (question+answer), traces (context) or messages JSONL")
    p.add_argument(
        "--out", type=Path, required=True, help="output JSONL (question, answer, conversation, turn)"
    )
    p.set_defaults(func=cmd_expand)


def cmd_expand(args: argparse.Namespace, settings: Settings) -> int:
    from eval.expand import expand_file, write_rows

    if not args.file.exists():
        raise UserError(f"{args.file} does not exist.")
    result = expand_file(args.file)
    if result.report.skipped:
        print(result.report.summary(), file=sys.stderr)
    write_rows(args.out, result.rows)
    print(f"{result.summary()} → {args.out}")
    return 0


# -- score ---------------------------------------------------------------------------------------
def _register_score(group: argparse._SubParsersAction) -> None:
    p = group.add_parser(
        "score", help="score prediction rows (question, answer, prediction) with the benchmark metrics"
    )
    p.add_argument("predictions", type=Path, help="JSONL rows with question, answer, prediction strings")
    p.add_argument("--out", type=Path, help="write the rows with one float column per metric here")
    p.add_argument("--report-dir", type=Path, help="also write report.md, report.json and a chart here")
    _add_judge_flags(p)
    p.set_defaults(func=cmd_score)


def _count_unbacked(rows: list[dict], settings: Settings) -> dict:
    """eval.unbacked's counts over the chat's database, or {} with a note when it is not built."""
    from eval.unbacked import count_if_database

    counts, why_not = count_if_database(rows, settings.db_url)
    if why_not:
        print(why_not, file=sys.stderr)
    return counts


def cmd_score(args: argparse.Namespace, settings: Settings) -> int:
    from eval.score import read_rows, score_rows

    if not args.predictions.exists():
        raise UserError(f"{args.predictions} does not exist.")
    rows, problems = read_rows(args.predictions)
    for problem in problems[:20]:
        print(f"{args.predictions}: {problem} (skipped)", file=sys.stderr)
    if not rows:
        raise UserError(
            f"{args.predictions} has no usable rows (each needs question, answer, prediction strings)."
        )
    result = score_rows(rows, judge=_make_judge(args, settings))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", encoding="utf-8") as fh:
            for row in result.rows:
                fh.write(json.dumps(row) + "\n")
    if args.report_dir:
        from eval.report import write_report

        result.unbacked = _count_unbacked(result.rows, settings)
        write_report(result, args.report_dir, {"label": args.predictions.stem, "test": str(args.predictions)})
    _print_summary(result)
    return 0


# -- run -----------------------------------------------------------------------------------------
def _register_run(group: argparse._SubParsersAction) -> None:
    p = group.add_parser("run", help="predict every expanded test row (batched), score, and write a report")
    src = p.add_argument_group("model (one of)")
    src.add_argument("--model", help="hub id or local model directory (default: RESTO_MODEL)")
    src.add_argument("--adapter", help="PEFT LoRA adapter directory")
    src.add_argument("--quantization", choices=["4bit", "8bit"], help="bitsandbytes quantization (CUDA only)")
    src.add_argument("--device", help="cuda / cpu (default: cuda when available)")
    src.add_argument("--endpoint", help="OpenAI-compatible base URL instead of a local model")
    src.add_argument("--endpoint-model", dest="endpoint_model", help="model name at the endpoint")
    src.add_argument("--api-key", dest="api_key", help="API key for the endpoint")
    p.add_argument(
        "--test",
        type=Path,
        help="benchmark test.jsonl or conversations (default: the benchmark's S1 test set)",
    )
    p.add_argument("--out", type=Path, required=True, help="run directory (predictions, report.md, …)")
    p.add_argument("--limit", type=int, help="only the first N expanded rows")
    p.add_argument("--batch-size", type=int, default=8, help="rows generated together (default 8)")
    p.add_argument("--max-new-tokens", type=int, default=256, help="cap on generated tokens per row")
    p.add_argument("--guided", action="store_true",
                   help="local models: decode only calls the tool schemas allow (agent.guided); default: free "
                   "decoding, as the benchmark scores")
    p.add_argument("--grounded", action="store_true",
                   help=f"local models: guided, and {GROUNDED_HELP} (agent.grounding; needs `resto db build`)")
    p.add_argument("--scenario", help="S1…S5, for `resto eval compare` (default: from the test path)")
    p.add_argument("--pipeline", help="tft / direct / base / …, for `resto eval compare`")
    p.add_argument("--label", help="name shown in reports")
    _add_judge_flags(p)
    p.set_defaults(func=cmd_run)


def _default_test(settings: Settings) -> Path:
    return settings.benchmark_dir() / "scenario-1-baseline" / "tft" / "test.jsonl"


def _predictor(args: argparse.Namespace, settings: Settings):
    if settings.endpoint:
        from agent.llm_client import EndpointConfig
        from eval.predict import EndpointPredictor

        config = EndpointConfig(
            base_url=settings.endpoint,
            model=settings.endpoint_model,
            api_key=settings.api_key,
            cache_dir=settings.cache_dir / "llm",
        )
        if args.guided or args.grounded:
            raise UserError("--guided and --grounded work on local models; an endpoint decodes on its own server.")
        return EndpointPredictor(config, max_tokens=args.max_new_tokens)
    from agent.model_loading import ModelLoadError, load_model
    from eval.predict import HFPredictor

    try:
        loaded = load_model(
            settings.model, adapter=settings.adapter, quantization=args.quantization, device=args.device
        )
    except ModelLoadError as exc:
        raise UserError(str(exc)) from None
    return HFPredictor(
        loaded.model,
        loaded.tokenizer,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        description=loaded.description + (" [grounded]" if args.grounded else " [guided]" if args.guided else ""),
        guided=args.guided,
        grounding=Gazetteer.from_url(settings.db_url) if args.grounded else None,
    )


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from eval.compare import normalize_scenario
    from eval.expand import expand_file
    from eval.predict import predict_rows
    from eval.report import write_report
    from eval.score import score_rows

    test = args.test or _default_test(settings)
    if not Path(test).exists():
        raise UserError(f"Test file {test} does not exist.")
    expansion = expand_file(test)
    if expansion.report.skipped:
        print(expansion.report.summary(), file=sys.stderr)
    rows = [r.to_record() for r in expansion.rows]
    if args.limit:
        rows = rows[: args.limit]
    if not rows:
        raise UserError(f"{test} gave no rows to evaluate.")
    judge = _make_judge(args, settings)  # fail on judge flags before spending time on predictions
    predictor = _predictor(args, settings)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tqdm(total=len(rows), desc="predict", unit="row") as bar:
        predicted, stats = predict_rows(
            rows,
            predictor,
            args.out / "predictions.jsonl",
            chunk_size=max(args.batch_size * 4, 1),
            progress=bar.update,
        )
    print(f"predictions: {stats.predicted} new, {stats.skipped} already done ({stats.seconds:.1f}s)")
    if stats.failed:
        first = getattr(predictor, "errors", ["?"])[0]
        print(
            f"warning: {stats.failed} rows failed and score as 'no call' (re-run to retry them); "
            f"first: {first}",
            file=sys.stderr,
        )
    result = score_rows(predicted, judge=judge)
    result.unbacked = _count_unbacked(result.rows, settings)
    meta = {
        "label": args.label or Path(args.out).name,
        "model": predictor.description,
        "adapter": settings.adapter,
        "endpoint": settings.endpoint,
        "test": str(test),
        "scenario": normalize_scenario(args.scenario) or normalize_scenario(test),
        "pipeline": args.pipeline,
        "rows": len(rows),
        "batch_size": args.batch_size,
        "seconds": round(time.perf_counter() - start, 1),
    }
    paths = write_report(result, args.out, meta)
    _print_summary(result)
    print(f"report: {paths['markdown']}")
    return 0


# -- compare -------------------------------------------------------------------------------------
def _register_compare(group: argparse._SubParsersAction) -> None:
    p = group.add_parser(
        "compare", help="one table across runs (scenario × pipeline), with published numbers"
    )
    p.add_argument("runs", nargs="+", type=Path, help="run directories (with report.json)")
    p.add_argument(
        "--metric", action="append", help="metric(s) to tabulate (default: llm-as-a-judge, staged_tool_call)"
    )
    p.add_argument("--out", type=Path, help="also write the markdown table here")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace, settings: Settings) -> int:
    from eval.compare import compare_markdown
    from eval.metrics import JUDGE_METRIC

    metrics = tuple(args.metric) if args.metric else (JUDGE_METRIC, "staged_tool_call")
    text = compare_markdown(args.runs, metrics)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


# -- tasks (closed-loop episodes; the parser and command live in eval/task_commands.py) ------------
def _register_tasks(group: argparse._SubParsersAction) -> None:
    from eval.task_commands import register_tasks

    register_tasks(group)
