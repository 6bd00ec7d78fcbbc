"""The `resto` command line: one subcommand per job.

    resto --help
    resto db build            # build the restaurant database from SGD
    resto chat                # the terminal app
    resto eval run ...        # score a model like the TFT benchmark

This module is the composition root: each package contributes its subcommands through a
`register(subparsers)` function in its own `commands.py`, imported here. It is the only place
that may import `tui` (and only when a TUI command runs).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from agent.settings import DataDirError, Settings
from backend.errors import UserError

# Packages that contribute subcommands, in the order they appear in --help.
COMMAND_MODULES = [
    "backend.commands",
    "agent.commands",
    "tui.commands",
    "eval.commands",
    "train.commands",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="resto", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="SGD / TFT-benchmark data directory (RESTO_DATA_DIR)")
    parser.add_argument("--home", type=Path, help="resto's home directory (RESTO_HOME)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a package without commands yet
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The one Settings object: environment first, then any flag given on the command line."""
    overrides = {}
    for field in ("data_dir", "home", "db", "model", "adapter", "endpoint", "endpoint_model", "api_key"):
        value = getattr(args, field, None)
        if value is not None:
            overrides[field] = value
    return Settings(**overrides)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        result = args.func(args, settings_from_args(args))
    except (UserError, DataDirError) as exc:
        print(f"resto: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("resto: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
