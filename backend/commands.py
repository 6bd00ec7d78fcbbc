"""Backend commands of `resto`: the database, the tools, and the data.

    resto db build [--db URL_OR_PATH] [--if-missing] [--fresh]
                                                       build the restaurant DB from SGD, print counts
    resto db dump [--db URL_OR_PATH] [--out FILE]      write a full SQL dump (stdout by default)
    resto tools run [--db ...] [--dry-run] [--limit N] [--session-id ID]
                                                       JSONL {"name", "arguments"} on stdin → one
                                                       JSON result list per line on stdout
    resto data download --out DIR [--base-url URL] [--only sgd|tft-benchmark]

`--db` takes a database URL (`sqlite:///…`, `postgresql://…`) or a SQLite file path; the
default is `$RESTO_HOME/resto.db` (RESTO_DB overrides it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from backend.db import is_sqlite
from backend.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="build or dump the restaurant database").add_subparsers(
        dest="db_command", metavar="DB_COMMAND", required=True
    )
    build = db.add_parser("build", help="build the database from every Restaurants_1 dialogue in SGD")
    build.add_argument("--db", help="database URL or SQLite file path (default $RESTO_HOME/resto.db)")
    build.add_argument("--if-missing", action="store_true", help="do nothing if the database already exists")
    build.add_argument("--fresh", action="store_true",
                       help="drop the old file's reservations and session log instead of keeping them")
    build.set_defaults(func=cmd_db_build)
    dump = db.add_parser("dump", help="write a full SQL dump of the database")
    dump.add_argument("--db", help="database URL or SQLite file path")
    dump.add_argument("--out", type=Path, help="file to write (default: stdout)")
    dump.set_defaults(func=cmd_db_dump)

    tools = sub.add_parser("tools", help="run tool calls against the database").add_subparsers(
        dest="tools_command", metavar="TOOLS_COMMAND", required=True
    )
    run = tools.add_parser("run", help='read JSONL {"name": ..., "arguments": {...}} on stdin, print results')
    run.add_argument("--db", help="database URL or SQLite file path")
    run.add_argument("--dry-run", action="store_true", help="execute the calls but write nothing")
    run.add_argument("--limit", type=int, default=10, help="search result cap (0 = no cap; default 10)")
    run.add_argument("--session-id", help="session id stored with any reservation made")
    run.set_defaults(func=cmd_tools_run)

    data = sub.add_parser("data", help="fetch the public data sets").add_subparsers(
        dest="data_command", metavar="DATA_COMMAND", required=True
    )
    download = data.add_parser("download", help="download SGD and the TFT benchmark into DIR")
    download.add_argument("--out", type=Path, required=True, help="folder to fill (use it as RESTO_DATA_DIR)")
    download.add_argument("--base-url", default=None, help="where the repositories live (default https://github.com)")
    download.add_argument("--only", choices=["sgd", "tft-benchmark"], help="fetch only one data set")
    download.set_defaults(func=cmd_data_download)


def cmd_db_build(args: argparse.Namespace, settings: Any) -> int:
    from backend.sgd_builder import build_database, database_exists

    url = settings.db_url
    if args.if_missing and database_exists(url):
        print(f"database already built: {url} (run `resto db build` to rebuild)")
        return 0
    if args.if_missing and settings.data_dir is None:
        print("RESTO_DATA_DIR is not set: cannot build the database (run `resto data download --out DIR`).",
              file=sys.stderr)
        return 0
    report = build_database(url, settings.sgd_dir(), fresh=args.fresh)
    print(f"built {url}")
    print("\n".join(report.lines()))
    return 0


def _existing_engine(settings: Any):
    from backend.sgd_builder import existing_database

    return existing_database(settings.db_url)


def cmd_db_dump(args: argparse.Namespace, settings: Any) -> int:
    engine = _existing_engine(settings)
    if not is_sqlite(engine):
        raise UserError("`resto db dump` writes SQLite dumps; use your database's own tool (e.g. pg_dump).")
    raw = engine.raw_connection()
    try:
        lines = (f"{line}\n" for line in raw.driver_connection.iterdump())
        if args.out:
            with open(args.out, "w", encoding="utf-8") as fh:
                fh.writelines(lines)
            print(f"wrote {args.out}", file=sys.stderr)
        else:
            sys.stdout.writelines(lines)
    except BrokenPipeError:  # `resto db dump | head`: the reader left, which is fine
        pass
    finally:
        raw.close()
        engine.dispose()
    return 0


def cmd_tools_run(args: argparse.Namespace, settings: Any) -> int:
    from backend.tools import execute

    if args.limit < 0:
        raise UserError("--limit must be 0 (no cap) or a positive number.")
    engine = _existing_engine(settings)
    try:
        for number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            try:
                call = json.loads(line)
                if not isinstance(call, dict) or not isinstance(call.get("name"), str):
                    raise ValueError("expected an object with a string 'name' and an 'arguments' object")
            except (json.JSONDecodeError, ValueError) as exc:
                message = f"Line {number} is not a tool call ({exc})."
                print(json.dumps([{"error": message}]), flush=True)
                continue
            outcome = execute(
                engine, call["name"], call.get("arguments", {}),
                session_id=args.session_id, dry_run=args.dry_run, limit=args.limit,
            )
            print(json.dumps(outcome.results), flush=True)
    finally:
        engine.dispose()
    return 0


def cmd_data_download(args: argparse.Namespace, settings: Any) -> int:
    from backend.download import GITHUB, download

    for line in download(args.out, base_url=args.base_url or GITHUB, only=args.only):
        print(line)
    print(f"set RESTO_DATA_DIR={args.out.resolve()} to use it")
    return 0
