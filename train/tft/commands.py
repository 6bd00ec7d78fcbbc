"""`resto train tft CONFIG`: run the TFT pipeline (filter, relabel, synthesize, validate, fine-tune).

    resto train tft config.yaml                          # all stages, into $RESTO_HOME/runs/tft-<time>
    resto train tft config.yaml --run-dir runs/s2 --stages filter,relabel
    resto train tft config.yaml --run-dir runs/s2 --resume   # continue an interrupted run
    resto train tft config.yaml --traces my_sessions.jsonl --db var/resto.db

`register_tft(train_subparsers)` adds the command under `resto train`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from agent.settings import Settings, db_url
from backend.errors import UserError


def register_tft(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tft", help="training from traces: filter, relabel, synthesize, validate, fine-tune",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("config", type=Path, help="YAML config (benchmark keys + a `tft:` section with endpoints)")
    p.add_argument("--run-dir", type=Path, help="output folder (default: $RESTO_HOME/runs/tft-<timestamp>)")
    p.add_argument("--stages", help="comma-separated subset of filter,relabel,synthesize,validate,finetune")
    p.add_argument("--resume", action="store_true", help="skip finished stages, continue unfinished ones")
    p.add_argument("--traces", type=Path, help="input traces (overrides tft.traces)")
    p.add_argument("--db", help="restaurant DB for validating service calls (default: RESTO_DB)")
    p.set_defaults(func=run_tft_command)


def run_tft_command(args: argparse.Namespace, settings: Settings) -> int:
    from train.tft.config import load_config
    from train.tft.pipeline import parse_stages, run_pipeline

    config = load_config(args.config)
    if args.traces is not None:
        config.tft.traces = args.traces.resolve()
    stages = parse_stages(args.stages)
    run_dir = args.run_dir or settings.runs_dir / time.strftime("tft-%Y%m%d-%H%M%S")
    if args.resume and not run_dir.exists():
        raise UserError(f"--resume: run directory {run_dir} does not exist")
    db = args.db or config.tft.db or settings.db_url  # the flag wins over the config, then RESTO_DB

    try:
        run_pipeline(config, run_dir, stages=stages, resume=args.resume, db_url=db_url(db))
    except ValueError as exc:  # a stage with nothing to work on
        raise UserError(str(exc)) from None
    print(f"run directory: {run_dir}")
    return 0
