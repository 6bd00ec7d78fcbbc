"""The session log: every conversation with the agent, kept in the SQLite database for review,
labelling and retraining.

    log = SessionLog(engine)                       # creates its tables if missing
    sid = log.start("distillabs/…", None, None, {"policy": "hf: …"})
    log.log_turn(sid, new_messages, {"latency_s": 0.8, "prompt_tokens": 812, …})
    log.list_sessions(search="thai")               # newest first
    log.set_label(message_id, "bad"); log.relabel(message_id, ToolCall(...))
    log.export([sid], "traces.jsonl", fmt="context")   # the benchmark trace format

Durability: each `log_turn` is one transaction, committed before it returns, so a crash loses at
most the turn in flight. The tables are in `agent.session_tables`.

A relabel is a human correction of an assistant call; it is stored next to the original (which is
never overwritten), and `export(..., use_relabels=True)` writes the corrected call.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from agent.conversation import Message, ToolCall
from agent.session_tables import ChatMessage, ChatSession, ChatTurn, ensure_tables, jsonable, message_row, now
from agent.trace_io import Trace, check_messages, write_traces
from backend.db import session_scope

LABELS = ("good", "bad")


@dataclass
class SessionSummary:
    id: str
    started_at: datetime
    updated_at: datetime
    model: str
    adapter: str | None
    turns: int
    messages: int
    preview: str  # the first user message, shortened


@dataclass
class ExportCount:
    """What `SessionLog.export` did: conversations written, and sessions left out by `skip_unbacked`."""

    written: int
    skipped: int = 0


@dataclass
class TurnRecord:
    index: int
    created_at: datetime
    message_ids: list[int]
    latency_s: float
    prompt_tokens: int
    completion_tokens: int
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class SessionRecord:
    id: str
    started_at: datetime
    model: str
    adapter: str | None
    messages: list[Message]
    message_ids: list[int]  # parallel to `messages`
    turns: list[TurnRecord]
    labels: dict[int, str]  # message id → "good" / "bad"
    relabels: dict[int, ToolCall]  # message id → the human's corrected call
    endpoint: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def unbacked_by_reply(self) -> dict[int, list[str]]:
        """{message id of a reply: the restaurants it named that no search returned} (`agent.name_check`,
        kept in the stats of the reply's turn, whose last call the reply is)."""
        calls = {mid for mid, m in zip(self.message_ids, self.messages, strict=True) if m.get("role") == "assistant"}
        out: dict[int, list[str]] = {}
        for turn in self.turns:
            replies = [mid for mid in turn.message_ids if mid in calls]
            if replies and turn.stats.get("unbacked_names"):
                out[replies[-1]] = list(turn.stats["unbacked_names"])
        return out

    def unbacked_names(self, use_relabels: bool = True) -> list[str]:
        """The restaurants this session's replies named that no search returned, leaving out (with
        `use_relabels`) the replies a person corrected."""
        names: dict[str, None] = {}
        for mid, found in self.unbacked_by_reply().items():
            if not (use_relabels and mid in self.relabels):
                names.update(dict.fromkeys(found))
        return list(names)

    def corrected_messages(self) -> list[Message]:
        """The conversation with every relabelled call replaced by its correction."""
        out = []
        for mid, msg in zip(self.message_ids, self.messages, strict=True):
            fix = self.relabels.get(mid)
            out.append(ToolCall(fix.name, dict(fix.arguments), fix.id).to_message() if fix else msg)
        return out


class SessionLogError(RuntimeError):
    """A session or message id that does not exist, or a bad label."""


class SessionLog:
    """Reads and writes the session log tables through one SQLAlchemy engine."""

    def __init__(self, engine):
        self.engine = engine
        ensure_tables(engine)

    def _write(self):
        # One transaction per call, committed on exit (BEGIN IMMEDIATE on SQLite: the write lock
        # is taken up front, so a busy database waits, then fails clearly, instead of half-writing).
        return session_scope(self.engine, write=True)

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # -- writing ----------------------------------------------------------------------------------

    def start(
        self,
        model: str,
        adapter: str | None = None,
        endpoint: str | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
    ) -> str:
        sid = session_id or uuid.uuid4().hex
        with self._write() as db:
            db.add(
                ChatSession(
                    id=sid,
                    model=model or "",
                    adapter=adapter,
                    endpoint=endpoint,
                    meta=jsonable(metadata or {}),
                )
            )
        return sid

    def log_turn(
        self, session_id: str, new_messages: list[Message], stats: dict[str, Any] | None = None
    ) -> int:
        """Append one turn (its messages and stats) in one committed transaction; returns the turn index."""
        stats = jsonable(stats or {})
        if new_messages:
            try:
                new_messages = check_messages(new_messages)
            except ValueError as exc:
                raise SessionLogError(f"Not logging a malformed turn: {exc}.") from None
        with self._write() as db:
            chat = db.get(ChatSession, session_id)
            if chat is None:
                raise SessionLogError(f"No session {session_id!r} in the log (call start() first).")
            index = db.scalar(
                select(func.count()).select_from(ChatTurn).where(ChatTurn.session_id == session_id)
            )
            position = db.scalar(
                select(func.count()).select_from(ChatMessage).where(ChatMessage.session_id == session_id)
            )
            turn = ChatTurn(
                session_id=session_id,
                index=index or 0,
                latency_s=float(stats.get("latency_s") or 0.0),
                prompt_tokens=int(stats.get("prompt_tokens") or 0),
                completion_tokens=int(stats.get("completion_tokens") or 0),
                stats=stats,
            )
            db.add(turn)
            db.flush()
            for offset, message in enumerate(new_messages):
                db.add(message_row(message, session_id, turn.id, (position or 0) + offset))
            chat.updated_at = now()
        return turn.index

    def set_label(self, message_id: int, label: str | None) -> None:
        if label is not None and label not in LABELS:
            raise SessionLogError(f"Label must be one of {', '.join(LABELS)} or None, not {label!r}.")
        with self._write() as db:
            self._message(db, message_id).label = label

    def relabel(self, message_id: int, call: ToolCall | None) -> None:
        """Store a human correction of an assistant call next to the original (None removes it)."""
        with self._write() as db:
            row = self._message(db, message_id)
            if row.role != "assistant" or row.tool_name is None:
                raise SessionLogError(
                    f"Message {message_id} is not an assistant tool call; only calls can be relabelled."
                )
            row.relabel = (
                None if call is None else {"name": call.name, "arguments": jsonable(dict(call.arguments))}
            )
            row.relabeled_at = None if call is None else now()

    @staticmethod
    def _message(db: Session, message_id: int) -> ChatMessage:
        row = db.get(ChatMessage, message_id)
        if row is None:
            raise SessionLogError(f"No message with id {message_id} in the session log.")
        return row

    # -- reading ----------------------------------------------------------------------------------

    def list_sessions(self, search: str | None = None, limit: int = 100) -> list[SessionSummary]:
        """Newest first. `search` matches the session id (prefix), model, or any message text."""
        with self._session() as db:
            query = select(ChatSession).order_by(ChatSession.updated_at.desc(), ChatSession.started_at.desc())
            if search:
                like = f"%{search}%"
                matching = select(ChatMessage.session_id).where(
                    or_(ChatMessage.content.ilike(like), ChatMessage.tool_name.ilike(like))
                )
                query = query.where(
                    or_(
                        ChatSession.id.startswith(search),
                        ChatSession.model.ilike(like),
                        ChatSession.id.in_(matching),
                    )
                )
            chats = db.scalars(query.limit(limit)).all()
            ids = [c.id for c in chats]
            turns = dict(
                db.execute(
                    select(ChatTurn.session_id, func.count())
                    .where(ChatTurn.session_id.in_(ids))
                    .group_by(ChatTurn.session_id)
                ).all()
            )
            counts = dict(
                db.execute(
                    select(ChatMessage.session_id, func.count())
                    .where(ChatMessage.session_id.in_(ids))
                    .group_by(ChatMessage.session_id)
                ).all()
            )
            first_user = {}
            for sid, content in db.execute(
                select(ChatMessage.session_id, ChatMessage.content).where(
                    ChatMessage.session_id.in_(ids), ChatMessage.position == 0
                )
            ).all():
                first_user[sid] = content or ""
            return [
                SessionSummary(
                    id=c.id,
                    started_at=c.started_at,
                    updated_at=c.updated_at,
                    model=c.model,
                    adapter=c.adapter,
                    turns=turns.get(c.id, 0),
                    messages=counts.get(c.id, 0),
                    preview=_shorten(first_user.get(c.id, ""), 60),
                )
                for c in chats
            ]

    def get(self, session_id: str) -> SessionRecord:
        """The whole session. A unique id prefix is accepted too (as `resto sessions show` prints them)."""
        with self._session() as db:
            chat = db.get(ChatSession, session_id)
            if chat is None:
                found = db.scalars(
                    select(ChatSession).where(ChatSession.id.startswith(session_id)).limit(2)
                ).all()
                if len(found) != 1:
                    why = "matches several sessions" if found else "is not in the session log"
                    raise SessionLogError(f"Session {session_id!r} {why}; see `resto sessions list`.")
                chat = found[0]
            rows = db.scalars(
                select(ChatMessage).where(ChatMessage.session_id == chat.id).order_by(ChatMessage.position)
            ).all()
            turn_rows = db.scalars(
                select(ChatTurn).where(ChatTurn.session_id == chat.id).order_by(ChatTurn.index)
            ).all()
            by_turn: dict[int, list[int]] = {}
            for row in rows:
                by_turn.setdefault(row.turn_id, []).append(row.id)
            return SessionRecord(
                id=chat.id,
                started_at=chat.started_at,
                model=chat.model,
                adapter=chat.adapter,
                endpoint=chat.endpoint,
                meta=dict(chat.meta or {}),
                messages=[row.to_message() for row in rows],
                message_ids=[row.id for row in rows],
                turns=[
                    TurnRecord(
                        t.index,
                        t.created_at,
                        by_turn.get(t.id, []),
                        t.latency_s,
                        t.prompt_tokens,
                        t.completion_tokens,
                        dict(t.stats or {}),
                    )
                    for t in turn_rows
                ],
                labels={row.id: row.label for row in rows if row.label},
                relabels={
                    row.id: ToolCall(
                        row.relabel["name"], dict(row.relabel.get("arguments") or {}), row.tool_call_id or ""
                    )
                    for row in rows
                    if row.relabel
                },
            )

    def all_ids(self) -> list[str]:
        with self._session() as db:
            return list(db.scalars(select(ChatSession.id).order_by(ChatSession.started_at)))

    def export(
        self,
        session_ids: Iterable[str] | None,
        path: str | Path,
        fmt: str = "context",
        use_relabels: bool = True,
        skip_unbacked: bool = False,
    ) -> ExportCount:
        """Write sessions as benchmark traces (`context` or `messages` variant); returns how many were
        written and how many `skip_unbacked` left out.

        `session_ids=None` exports every session. Sessions without any assistant call are skipped
        (nothing to learn from). Each record carries `session_id`, `model` and `adapter` fields, and
        `unbacked_names` when a reply named restaurants no search returned (`agent.name_check`) and
        nobody corrected that reply; `skip_unbacked` leaves such sessions out, so a model is not
        trained on its own made-up names.
        """
        if fmt not in ("context", "messages"):
            raise SessionLogError(f"Unknown export format {fmt!r}; use 'context' or 'messages'.")
        ids = self.all_ids() if session_ids is None else list(session_ids)
        traces = []
        skipped = 0
        for sid in ids:
            record = self.get(sid)
            messages = record.corrected_messages() if use_relabels else record.messages
            if not any(m.get("role") == "assistant" for m in messages):
                continue
            meta: dict[str, Any] = {"session_id": record.id, "model": record.model}
            if record.adapter:
                meta["adapter"] = record.adapter
            unbacked = record.unbacked_names(use_relabels)
            if unbacked:
                if skip_unbacked:
                    skipped += 1
                    continue
                meta["unbacked_names"] = unbacked
            traces.append(Trace(messages, meta))
        return ExportCount(write_traces(path, traces, fmt=fmt), skipped)


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
