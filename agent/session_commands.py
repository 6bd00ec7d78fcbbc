"""`resto sessions …`: review and export the session log (every conversation held with the agent).

    resto sessions list [--search TEXT] [--limit N]
    resto sessions show ID                       # a unique prefix of the id is enough
    resto sessions export [IDS… | --all] --out FILE [--format context|messages] [--no-relabels]

`export` writes the TFT benchmark's trace format, so logged (and relabelled) sessions feed
retraining: `--format context` is the benchmark's traces.jsonl form, `messages` has arguments as
objects. Wired into the CLI by `agent.commands.register`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from agent.settings import Settings
from backend.errors import UserError


def sessions_subparsers(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The `resto sessions` command group, created on first use (so the TUI can add a browser)."""
    parser = sub.choices.get("sessions")
    if parser is None:
        parser = sub.add_parser("sessions", help="list, show and export logged chat sessions")
        parser.set_defaults(
            _sessions_group=parser.add_subparsers(dest="sessions_command", metavar="SESSIONS_COMMAND")
        )
    return parser.get_default("_sessions_group")


def register(sub: argparse._SubParsersAction) -> None:
    group = sessions_subparsers(sub)

    p = group.add_parser("list", help="logged sessions, newest first")
    p.add_argument("--search", help="only sessions whose messages, model or id contain TEXT")
    p.add_argument("--limit", type=int, default=100, help="at most N sessions (default 100)")
    p.add_argument("--db", help="database URL or SQLite path (RESTO_DB)")
    p.set_defaults(func=cmd_list)

    p = group.add_parser("show", help="one session: messages, tool calls, results, labels, stats")
    p.add_argument("id", help="session id (a unique prefix is enough)")
    p.add_argument("--db", help="database URL or SQLite path (RESTO_DB)")
    p.set_defaults(func=cmd_show)

    p = group.add_parser("export", help="write sessions as benchmark traces (JSONL) for retraining")
    p.add_argument("ids", nargs="*", help="session ids (or prefixes)")
    p.add_argument("--all", action="store_true", help="export every session")
    p.add_argument("--out", type=Path, required=True, help="output JSONL file")
    p.add_argument(
        "--format",
        choices=["context", "messages"],
        default="context",
        help="context: the benchmark's traces.jsonl form (default); messages: arguments as objects",
    )
    p.add_argument(
        "--no-relabels", action="store_true", help="export the original calls, not the corrections"
    )
    p.add_argument(
        "--skip-unbacked", action="store_true",
        help="leave out sessions whose replies named a restaurant no search returned (unless corrected)",
    )
    p.add_argument("--db", help="database URL or SQLite path (RESTO_DB)")
    p.set_defaults(func=cmd_export)


def open_log(settings: Settings):
    from agent.sessionlog import SessionLog
    from backend.db import make_engine

    return SessionLog(make_engine(settings.db_url))


def cmd_list(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    sessions = open_log(settings).list_sessions(search=args.search, limit=args.limit)
    if not sessions:
        print("no sessions" + (f" matching {args.search!r}" if args.search else "") + " in the log", file=out)
        return 0
    print(f"{'id':<12}  {'started (UTC)':<16}  {'turns':>5}  {'model':<32}  first message", file=out)
    for s in sessions:
        model = s.model if len(s.model) <= 32 else "…" + s.model[-31:]
        print(
            f"{s.id[:12]:<12}  {s.started_at:%Y-%m-%d %H:%M}  {s.turns:>5}  {model:<32}  {s.preview}",
            file=out,
        )
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    from agent.conversation import ToolCall
    from agent.sessionlog import SessionLogError

    out = out or sys.stdout
    try:
        record = open_log(settings).get(args.id)
    except SessionLogError as exc:
        raise UserError(str(exc)) from None
    print(f"session {record.id}", file=out)
    print(
        f"started {record.started_at:%Y-%m-%d %H:%M:%S} UTC · model {record.model}"
        + (f" · adapter {record.adapter}" if record.adapter else "")
        + (f" · endpoint {record.endpoint}" if record.endpoint else ""),
        file=out,
    )
    positions = {mid: i for i, mid in enumerate(record.message_ids)}
    for turn in record.turns:
        stats = turn.stats
        print(
            f"\n── turn {turn.index + 1} · {turn.latency_s:.2f}s · {turn.prompt_tokens} prompt / "
            f"{turn.completion_tokens} completion tokens · {stats.get('steps', '?')} model calls"
            + (" · cancelled" if stats.get("cancelled") else "")
            + (f" · error: {stats['error']}" if stats.get("error") else "")
            + (f" · not from a search: {', '.join(stats['unbacked_names'])}" if stats.get("unbacked_names") else ""),
            file=out,
        )
        for mid in turn.message_ids:
            msg = record.messages[positions[mid]]
            tag = f"[{mid}]"
            if record.labels.get(mid):
                tag += f" ({record.labels[mid]})"
            if msg.get("role") == "assistant":
                call = ToolCall.from_message(msg)
                print(f"{tag} assistant → {_call_text(call)}", file=out)
                if mid in record.relabels:
                    print(f"{' ' * len(tag)} relabelled → {_call_text(record.relabels[mid])}", file=out)
            else:
                print(f"{tag} {msg.get('role')}: {msg.get('content')}", file=out)
    return 0


def _call_text(call) -> str:
    if call.message is not None:
        return f"respond_to_user: {call.message}"
    return f"{call.name}({json.dumps(call.arguments, ensure_ascii=False)})"


def cmd_export(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    from agent.sessionlog import SessionLogError

    out = out or sys.stdout
    if not args.all and not args.ids:
        raise UserError("Name the sessions to export (ids from `resto sessions list`) or pass --all.")
    if args.all and args.ids:
        raise UserError("Pass either session ids or --all, not both.")
    log = open_log(settings)
    try:
        ids = None if args.all else [log.get(i).id for i in args.ids]
        count = log.export(ids, args.out, fmt=args.format, use_relabels=not args.no_relabels,
                           skip_unbacked=args.skip_unbacked)
    except SessionLogError as exc:
        raise UserError(str(exc)) from None
    print(
        f"wrote {count.written} conversation{'s' if count.written != 1 else ''} to {args.out} ({args.format} format)"
        + (f"; left out {count.skipped} whose replies named a restaurant no search returned" if count.skipped else ""),
        file=out,
    )
    return 0
