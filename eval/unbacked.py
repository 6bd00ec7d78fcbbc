"""Benchmark replies that name a restaurant the conversation never gave: made-up names, per row.

    counts = unbacked_replies(rows, Gazetteer.from_url(db_url))   # rows with question/answer/prediction
    counts["predicted"]   # e.g. the v4 seed-0 demo model: {"replies": 288, "unbacked": 18, "names": {"Mcdonald's": 8, ...}}

The benchmark's metrics score a respond_to_user message by its wording (rouge, the judge) and give
the right function 0.75 whatever the message says, so a reply that recommends a restaurant no
search returned costs no more than any other inexact message. For a person using the agent it is the
worst kind: they may walk to a place that does not exist. For every row whose prediction is a
respond_to_user call, this checks its message the way the chat does (`agent.name_check`: the
restaurant names the database knows, written as the database writes them, that neither a tool result
of the row's conversation nor the user's words gave), and the reference's messages the same way, as
the baseline. The counts are a floor: a made-up name the database does not know cannot be recognised
in prose. `resto eval run` and `resto eval score --report-dir` add them to report.md and report.json
when the restaurant database is built (`resto db build`).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from agent.grounding import Gazetteer
from agent.name_check import unbacked_names
from backend.errors import UserError
from eval.metrics import parse_call


def _messages(question: Any) -> list[dict[str, Any]]:
    """A row's conversation (the `question` field: a JSON list of messages, or the list itself)."""
    if isinstance(question, str):
        try:
            question = json.loads(question)
        except (json.JSONDecodeError, RecursionError):
            return []
    return [m for m in question if isinstance(m, dict)] if isinstance(question, list) else []


def _reply(text: Any) -> str | None:
    """The message of a respond_to_user call, or None for anything else."""
    call = parse_call(text)
    if call is None or call.name != "respond_to_user" or not isinstance(call.arguments, dict):
        return None
    message = call.arguments.get("message")
    return message if isinstance(message, str) else None


def unbacked_replies(rows: list[dict[str, Any]], gazetteer: Gazetteer) -> dict[str, dict[str, Any]]:
    """For the predictions and for the reference answers: how many rows are respond_to_user replies,
    how many of those name a restaurant the conversation never gave, and which names (most frequent
    first)."""
    out: dict[str, dict[str, Any]] = {}
    for side, field in (("predicted", "prediction"), ("reference", "answer")):
        replies, unbacked, names = 0, 0, Counter()
        for row in rows:
            message = _reply(row.get(field))
            if message is None:
                continue
            replies += 1
            found = unbacked_names(message, _messages(row.get("question")), gazetteer)
            unbacked += bool(found)
            names.update(found)
        out[side] = {"replies": replies, "unbacked": unbacked, "names": dict(names.most_common())}
    return out


def count_if_database(rows: list[dict[str, Any]], db_url: str | Any) -> tuple[dict[str, dict[str, Any]], str | None]:
    """(`unbacked_replies` over the database at `db_url`, None), or ({}, why not) when it is not built
    or cannot be read: the other metrics never depend on it."""
    try:
        gazetteer = Gazetteer.from_url(db_url)
    except UserError as exc:
        return {}, f"{exc} Replies naming made-up restaurants are not counted."
    return unbacked_replies(rows, gazetteer), None


def unbacked_lines(counts: dict[str, dict[str, Any]], top: int = 5) -> list[str]:
    """The markdown table of report.md (empty without counts)."""
    if not counts:
        return []
    lines = ["| replies by | respond_to_user rows | naming a restaurant never given | share | most frequent |",
             "| --- | --- | --- | --- | --- |"]
    for side in ("predicted", "reference"):
        c = counts[side]
        share = f"{c['unbacked'] / c['replies']:.3f}" if c["replies"] else "—"
        frequent = ", ".join(f"{name} ({n})" for name, n in list(c["names"].items())[:top]) or "—"
        lines.append(f"| {'the model' if side == 'predicted' else 'the reference'} | {c['replies']} | "
                     f"{c['unbacked']} | {share} | {frequent} |")
    return lines
