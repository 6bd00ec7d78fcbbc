"""`resto` subcommands of the terminal app.

    resto chat [--plain] [--model ID|PATH] [--adapter DIR] [--endpoint URL] [--db PATH]
    resto chat --replay-policy 1_00000        # no model: the agent answers with a recorded dialogue
    resto replay [DIALOGUE_ID | --search TEXT] [--no-tui] [--live-db] [--model …|--endpoint …]
    resto sessions ui [--db PATH]             # browse, label, relabel and export logged sessions

Textual is imported only when a TUI actually starts (`--plain` and `--no-tui` never load it).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from agent.grounding import HELP as GROUNDED_HELP
from agent.settings import Settings
from backend.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chat", help="chat with the agent in the terminal app (or --plain REPL)")
    _model_flags(p)
    p.add_argument("--plain", action="store_true", help="a plain line-based REPL instead of the app")
    p.add_argument("--replay-policy", metavar="DIALOGUE_ID",
                   help="answer with the recorded calls of a dialogue (a demo that needs no model)")
    p.add_argument("--no-confirm", action="store_true",
                   help="do not ask before booking (RESTO_CONFIRM_BOOKINGS=false)")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("replay", help="step through a recorded dialogue against the model, with scores")
    p.add_argument("dialogue_id", nargs="?", help="SGD id (1_00000) or benchmark test conversation (test-00)")
    p.add_argument("--search", help="filter dialogues by text (or pick one in the app)")
    p.add_argument("--no-tui", action="store_true", help="print the comparison as JSON lines")
    p.add_argument("--live-db", action="store_true",
                   help="tool results from the live database (dry run) instead of the recording")
    p.add_argument("--reference", action="store_true",
                   help="predict with the reference itself (replay policy): checks data and scoring")
    _model_flags(p)
    p.set_defaults(func=cmd_replay)

    from agent.session_commands import sessions_subparsers

    p = sessions_subparsers(sub).add_parser("ui", help="browse, label, correct and export sessions in the app")
    p.add_argument("--db", help="database URL or SQLite path (RESTO_DB)")
    p.set_defaults(func=cmd_sessions_ui)


def _model_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="hub id or local model directory (RESTO_MODEL)")
    p.add_argument("--adapter", help="PEFT LoRA adapter directory (RESTO_ADAPTER)")
    p.add_argument("--endpoint", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (RESTO_ENDPOINT)")
    p.add_argument("--db", help="database URL or SQLite path (RESTO_DB)")
    p.add_argument("--guided", action="store_true", default=None, dest="guided_decoding",
                   help="local models: decode only calls the tool schemas allow (RESTO_GUIDED_DECODING)")
    p.add_argument("--grounded", action=argparse.BooleanOptionalAction, default=None, dest="grounded_decoding",
                   help=f"local models: guided, plus {GROUNDED_HELP} (RESTO_GROUNDED_DECODING; "
                   "unset: the model's own default, grounded for the demo model)")


def _decoding(args: argparse.Namespace, settings: Settings) -> Settings:
    """The settings with the decoding flags given on the command line (unset flags keep the env's)."""
    flags = {key: value for key in ("guided_decoding", "grounded_decoding")
             if (value := getattr(args, key, None)) is not None}
    return settings.model_copy(update=flags) if flags else settings


def _engine(settings: Settings) -> Any:
    from backend.db import make_engine

    return make_engine(settings.db_url)


def _replay_policy(settings: Settings, dialogue_id: str) -> Any:
    from agent.policies.replay import ReplayPolicy
    from tui.replay import DialogueIndex

    return ReplayPolicy(DialogueIndex(settings).get(dialogue_id).messages)


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    settings = _decoding(args, settings)
    if args.no_confirm:
        settings = settings.model_copy(update={"confirm_bookings": False})
    policy = _replay_policy(settings, args.replay_policy) if args.replay_policy else None
    if args.plain:
        from agent.repl import run_repl
        from tui.app import default_resolver

        if policy is None:
            resolved = default_resolver(settings)
            if resolved.policy is None:
                raise UserError(resolved.reason or resolved.howto or "No model could be loaded.")
            policy = resolved.policy
        return run_repl(settings, policy, _engine(settings), sys.stdin, sys.stdout)
    from tui.app import RestoApp

    RestoApp(settings, mode="chat", policy=policy).run()
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    settings = _decoding(args, settings)
    from tui.replay import DialogueIndex, ReplaySetup, name_gazetteer, run_dialogue, summarize

    index = DialogueIndex(settings)
    if args.no_tui and not args.dialogue_id:
        hits = index.search(args.search)
        if len(hits) != 1:
            listing = "\n".join(f"  {d.id}  {d.title}" for d in hits[:20])
            raise UserError(f"--no-tui needs one dialogue: give its id ({len(hits)} match):\n{listing}")
        args.dialogue_id = hits[0].id
    if args.dialogue_id:
        index.get(args.dialogue_id)  # a clear error for an unknown id, before loading any model
    if args.reference:
        if not args.dialogue_id:
            raise UserError("--reference needs a dialogue id.")
        policy = _replay_policy(settings, args.dialogue_id)
    else:
        from tui.app import default_resolver

        resolved = default_resolver(settings)
        if resolved.policy is None:
            raise UserError(resolved.reason or resolved.howto or "No model could be loaded.")
        policy = resolved.policy
    engine = _engine(settings) if args.live_db else None
    gazetteer = name_gazetteer(settings, policy)
    if args.no_tui:
        dialogue = index.get(args.dialogue_id)
        results = []
        for result in run_dialogue(dialogue, policy, engine, gazetteer):
            results.append(result)
            print(json.dumps(result.to_json(), ensure_ascii=False), flush=True)
        print(json.dumps(summarize(dialogue.id, results).to_json()), flush=True)
        return 0
    from tui.app import RestoApp

    setup = ReplaySetup(index, policy, engine, args.dialogue_id, args.search, gazetteer)
    RestoApp(settings, mode="replay", replay=setup).run()
    return 0


def cmd_sessions_ui(args: argparse.Namespace, settings: Settings) -> int:
    from tui.app import RestoApp

    RestoApp(settings, mode="sessions").run()
    return 0
