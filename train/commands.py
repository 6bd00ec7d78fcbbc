"""`resto traces …`, `resto train direct`, `resto model demo` — the training side of the CLI.

    resto traces from-sgd [--services Restaurants_1] [--single-domain] [--split train] --out FILE [--format context|messages]
    resto traces from-sgd --s1 --out FILE          # exactly the benchmark's 327 S1 traces
    resto traces scenario s1|s2|s3|s4|s5 [--seed N] [--n N] --out DIR
    resto traces stats FILE [--reference CLEAN_FILE] [--strict]
    resto train direct CONFIG.yaml
    resto model demo [--epochs 8.5 | --minutes M | --steps N] [--out DIR] [--members 1] [--batch-size 2 --lr 2e-3 --augment 0 --layers 4 --hidden 256 --bf16 auto
                      --decision-weight 1 --context-weight 0 --ema 0.998 --weight-decay 0.01 --sgd-segments --restaurants-2 --seed 0]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from agent.settings import Settings
from backend.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    traces = sub.add_parser("traces", help="build and inspect training traces (SGD, the five scenarios)")
    tsub = traces.add_subparsers(dest="traces_command", metavar="TRACES_COMMAND")
    traces.set_defaults(func=lambda args, settings: (traces.print_help(), 0)[1])

    p = tsub.add_parser("from-sgd", help="convert SGD dialogues to traces")
    p.add_argument("--services", nargs="+", default=["Restaurants_1"], help="SGD services (default Restaurants_1)")
    p.add_argument("--single-domain", action="store_true", help="only dialogues with exactly that one service")
    p.add_argument("--split", nargs="+", default=["train"], choices=["train", "dev", "test"])
    p.add_argument("--s1", action="store_true", help="the benchmark's S1 selection and order (327 traces)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--format", choices=["context", "messages"], default="context")
    p.set_defaults(func=cmd_from_sgd)

    p = tsub.add_parser("scenario", help="regenerate a benchmark scenario's training traces")
    p.add_argument("name", choices=["s1", "s2", "s3", "s4", "s5"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n", type=int, help="number of traces (default: the published size)")
    p.add_argument("--out", type=Path, required=True, help="folder; traces.jsonl + stats.json are written there")
    p.add_argument("--format", choices=["context", "messages"], default="context")
    p.set_defaults(func=cmd_scenario)

    p = tsub.add_parser("stats", help="statistics of a traces file")
    p.add_argument("file", type=Path)
    p.add_argument("--reference", type=Path, help="clean traces to measure corruptions against (e.g. S1)")
    p.add_argument("--strict", action="store_true", help="a broken line is an error instead of skipped")
    p.set_defaults(func=cmd_stats)

    train = sub.add_parser("train", help="fine-tune models (direct training; TFT lives in `train tft`)")
    trsub = train.add_subparsers(dest="train_command", metavar="TRAIN_COMMAND")
    train.set_defaults(func=lambda args, settings: (train.print_help(), 0)[1])
    p = trsub.add_parser("direct", help="fine-tune on raw traces as they are (the baseline)")
    p.add_argument("config", type=Path, help="YAML config (see README: Training)")
    p.add_argument("--run-dir", type=Path, help="run directory (default: config run_dir or RESTO_HOME/runs)")
    p.set_defaults(func=cmd_direct)
    try:  # `resto train tft` (train/tft/commands.py)
        from train.tft.commands import register_tft
    except ImportError:
        register_tft = None
    if register_tft is not None:
        register_tft(trsub)

    from agent.commands import model_subparsers

    p = model_subparsers(sub).add_parser("demo", help="train the offline demo model (two tiny members) from scratch on CPU (~35 min on 2 AVX2 cores)")
    p.add_argument("--epochs", type=float, help="passes over the training conversations (default 8.5: ~34 min on a "
                   "2-core AVX2-only CPU; the calibration prints this CPU's estimate)")
    p.add_argument("--minutes", type=float, help="a wall-clock budget instead of --epochs (a slower CPU trains fewer epochs)")
    p.add_argument("--out", type=Path, help="output directory (default: RESTO_HOME/models/demo)")
    p.add_argument("--steps", type=int, help="a fixed number of optimizer steps instead of --epochs")
    p.add_argument("--batch-size", type=int, help="conversations per step (default 2)")
    p.add_argument("--lr", type=float, help="peak learning rate (default 2e-3)")
    p.add_argument("--augment", type=int, dest="augment_copies",
                   help="entity-swapped copies of each conversation (default 0: the S1 traces only)")
    p.add_argument("--layers", type=int, help="decoder layers of each member (default 3)")
    p.add_argument("--hidden", type=int, help="hidden size of each member (default 192)")
    p.add_argument("--vocab", type=int, dest="vocab_size", help="BPE vocabulary of a fresh tokenizer (default 2048)")
    p.add_argument("--tokenizer", choices=("words", "lines", "bare"), dest="pre_tokenizer",
                   help="where BPE pieces may end: words (like Qwen, the default), lines (merges span "
                   "words; fewer tokens) or bare (a value reads the same in the user's words and the call; "
                   "more tokens). Both scored lower: docs/demo-model.md")
    p.add_argument("--sgd-segments", action="store_true", default=None, dest="sgd_segments",
                   help="also train on the restaurant parts of SGD's multi-domain dialogues (515 more): "
                   "2.2x the time; the default pair scored 0.948 / 0.725 on average in 73 min instead of "
                   "0.946 / 0.721 in 33 (three pairs of seeds, 2-core AVX2 CPU: docs/demo-model.md)")
    p.add_argument("--restaurants-2", action="store_true", default=None, dest="restaurants_2",
                   help="also train on SGD's Restaurants_2 dialogues in the Restaurants_1 schema (129 more)")
    p.add_argument("--seed", type=int, help="seed of the weight init and the data order (default 0)")
    p.add_argument("--decision-weight", type=float, dest="decision_weight",
                   help="loss weight of function-name and argument-key tokens (default 1)")
    p.add_argument("--context-weight", type=float, dest="context_weight",
                   help="auxiliary loss weight of user and tool-result tokens (default 0)")
    p.add_argument("--context-noise", type=float, dest="context_noise",
                   help="replace user and tool-result tokens with this probability each epoch (default 0)")
    p.add_argument("--state-weight", type=float, dest="state_weight",
                   help="weight of the slot-state tagging loss on user turns (default 0: off)")
    p.add_argument("--ema", type=float, dest="ema_decay",
                   help="ship the moving average of the weights with this decay (default 0.998; 0 = the last weights)")
    p.add_argument("--weight-decay", type=float, dest="weight_decay", help="AdamW weight decay (default 0.01)")
    p.add_argument("--dropout", type=float,
                   help="residual dropout while training: embeddings, attention and MLP outputs (default 0: off)")
    p.add_argument("--members", type=int,
                   help="train N models at once (seeds seed…seed+N-1, the cores split between them) and ship "
                   "them as one ensemble (default 2; 1 = a single model)")
    p.add_argument("--bf16", choices=("auto", "on", "off"),
                   help="bf16 autocast (default auto: calibration times both and keeps the faster)")
    p.set_defaults(func=cmd_demo)


def cmd_from_sgd(args: argparse.Namespace, settings: Settings) -> int:
    from agent.trace_io import write_traces
    from train.sgd_traces import s1_traces, traces_from_sgd

    sgd = settings.sgd_dir()
    traces = s1_traces(sgd) if args.s1 else traces_from_sgd(sgd, args.services, args.single_domain, args.split)
    if not traces:
        raise UserError(f"no SGD dialogue matches services {args.services} in {args.split}")
    n = write_traces(args.out, traces, fmt=args.format)
    print(f"wrote {n} traces to {args.out}")
    return 0


def cmd_scenario(args: argparse.Namespace, settings: Settings) -> int:
    from agent.trace_io import write_traces
    from train.scenarios import build_scenario
    from train.scenarios.common import Pools
    from train.scenarios.stats import corruption_stats, trace_stats

    pools = Pools.load(settings.sgd_dir())
    traces = build_scenario(args.name, pools, seed=args.seed, n=args.n)
    args.out.mkdir(parents=True, exist_ok=True)
    write_traces(args.out / "traces.jsonl", traces, fmt=args.format)
    stats = {"scenario": args.name, "seed": args.seed, **trace_stats(traces),
             "vs_s1": corruption_stats(traces, build_scenario("s1", pools))}
    (args.out / "stats.json").write_text(json.dumps(stats, indent=2))
    print(f"wrote {len(traces)} {args.name} traces to {args.out / 'traces.jsonl'} (stats.json alongside)")
    return 0


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    from agent.trace_io import TraceFormatError, read_traces
    from train.scenarios.stats import corruption_stats, trace_stats

    if not args.file.exists():
        raise UserError(f"{args.file} does not exist")
    try:
        traces, report = read_traces(args.file, strict=args.strict)
        reference = read_traces(args.reference, strict=args.strict)[0] if args.reference else None
    except TraceFormatError as exc:
        raise UserError(str(exc)) from None
    print(report.summary())
    stats = trace_stats(traces)
    if reference is not None:
        stats["vs_reference"] = corruption_stats(traces, reference)
    print(json.dumps(stats, indent=2))
    return 0


def cmd_direct(args: argparse.Namespace, settings: Settings) -> int:
    from pydantic import ValidationError

    from train.config import load_direct_config
    from train.direct import run_direct

    if not args.config.exists():
        raise UserError(f"config {args.config} does not exist")
    try:
        config = load_direct_config(args.config)
    except (ValidationError, ValueError) as exc:
        raise UserError(f"invalid config {args.config}: {exc}") from None
    result = run_direct(config, settings, args.run_dir)
    print(f"trained: {result.output_dir}" + (f"; merged model: {result.merged_dir}" if result.merged_dir else ""))
    print(json.dumps({k: v for k, v in result.metrics.items() if k in ("train_loss", "global_step", "eval")}, default=str))
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from agent.tiny import TinyConfig
    from train.demo import DemoConfig, train_demo

    def given(*names: str) -> dict:
        return {name: getattr(args, name) for name in names if getattr(args, name) is not None}

    # --ema 0 ships the last weights (no average)
    ema = {} if args.ema_decay is None else {"ema_decay": args.ema_decay or None}
    try:  # validated like a config file: a bad flag value is one clear error
        # a size flag changes the demo's architecture, not agent.tiny's (whose default is larger)
        demo_tiny = DemoConfig().tiny.model_dump()
        tiny = TinyConfig(**{**demo_tiny, **given("layers", "hidden", "seed", "vocab_size", "pre_tokenizer")})
        budgets = [flag for flag, value in (("--epochs", args.epochs), ("--minutes", args.minutes), ("--steps", args.steps))
                   if value is not None]
        if len(budgets) > 1:
            raise ValueError(f"{' and '.join(budgets)} are alternatives: give one")
        config = DemoConfig(max_steps=args.steps, tiny=tiny,
                            **given("epochs", "minutes", "batch_size", "lr", "augment_copies", "decision_weight", "context_weight", "context_noise", "seed",
                                    "sgd_segments", "restaurants_2", "weight_decay", "members", "state_weight",
                                    "dropout"), **ema,
                            **({"bf16": {"auto": "auto", "on": True, "off": False}[args.bf16]} if args.bf16 else {}))
    except ValueError as exc:
        raise UserError(f"resto model demo: {exc}") from None
    result = train_demo(settings, args.out, config)
    print(f"demo model ready: {result.output_dir} (resto chat uses it when no hub model is available, "
          "with grounded decoding unless --no-grounded)")
    return 0
