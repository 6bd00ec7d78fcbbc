"""The session log's tables: sessions, their turns and their messages (SQLAlchemy 2.0 typed ORM).

They live on the shared `backend.db.Base` (the one metadata of the project), so `resto db build`
creates them with the restaurant tables; `ensure_tables(engine)` creates just these when missing.
`agent.sessionlog.SessionLog` is the API over them; `message_row` turns a conversation message
into a `ChatMessage` and `ChatMessage.to_message` turns it back.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agent.conversation import Message, ToolCall, normalize_message
from backend.db import Base


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class ChatSession(Base):
    __tablename__ = "chat_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    model: Mapped[str] = mapped_column(String(500), default="")
    adapter: Mapped[str | None] = mapped_column(String(500), nullable=True)
    endpoint: Mapped[str | None] = mapped_column(String(500), nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    turns: Mapped[list[ChatTurn]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="ChatTurn.index"
    )
    messages: Mapped[list[ChatMessage]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="ChatMessage.position"
    )


class ChatTurn(Base):
    """One user turn: its stats (latency, tokens, steps, per-step raw outputs)."""

    __tablename__ = "chat_turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    latency_s: Mapped[float] = mapped_column(Float, default=0.0)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    session: Mapped[ChatSession] = relationship(back_populates="turns")
    messages: Mapped[list[ChatMessage]] = relationship(back_populates="turn", order_by="ChatMessage.position")


class ChatMessage(Base):
    """One message, in the conversation format; a tool call is stored as its name + arguments."""

    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id", ondelete="CASCADE"), index=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("chat_turns.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 0-based index in the conversation
    role: Mapped[str] = mapped_column(String(20))
    content: Mapped[str | None] = mapped_column(Text, nullable=True)
    tool_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    tool_arguments: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    tool_call_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    label: Mapped[str | None] = mapped_column(String(10), nullable=True)
    relabel: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # {"name", "arguments"}
    relabeled_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    session: Mapped[ChatSession] = relationship(back_populates="messages")
    turn: Mapped[ChatTurn] = relationship(back_populates="messages")

    def to_message(self, use_relabel: bool = False) -> Message:
        if self.role == "assistant" and self.tool_name is not None:
            if use_relabel and self.relabel:
                return ToolCall(
                    self.relabel["name"], dict(self.relabel.get("arguments") or {}), self.tool_call_id or ""
                ).to_message()
            return ToolCall(
                self.tool_name, dict(self.tool_arguments or {}), self.tool_call_id or ""
            ).to_message()
        msg: Message = {"role": self.role, "content": self.content if self.content is not None else ""}
        if self.role == "tool":
            msg["tool_call_id"] = self.tool_call_id or ""
        return msg


TABLES = [ChatSession.__table__, ChatTurn.__table__, ChatMessage.__table__]


def ensure_tables(engine) -> None:
    """Create the session-log tables when missing (idempotent, cheap)."""
    Base.metadata.create_all(engine, tables=TABLES)


def message_row(message: Message, session_id: str, turn_id: int, position: int) -> ChatMessage:
    msg = normalize_message(message)
    row = ChatMessage(
        session_id=session_id, turn_id=turn_id, position=position, role=str(msg.get("role", ""))
    )
    if msg.get("role") == "assistant" and msg.get("tool_calls"):
        call = ToolCall.from_message(msg)
        row.tool_name, row.tool_arguments, row.tool_call_id = call.name, jsonable(call.arguments), call.id
    else:
        content = msg.get("content")
        row.content = content if isinstance(content, str) or content is None else json.dumps(content)
        row.tool_call_id = msg.get("tool_call_id")
    return row


def jsonable(value: Any) -> Any:
    """A JSON-safe copy (stats may carry numpy/torch scalars or other objects: stringify those)."""
    return json.loads(json.dumps(value, default=str))
