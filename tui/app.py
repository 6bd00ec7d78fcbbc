"""RestoApp: the Textual application behind `resto chat`, `resto replay` and `resto sessions ui`.

    resto chat                      # chat with the resolved model (see agent.resolve)
    resto replay 1_00000            # step through an SGD dialogue against the model
    resto sessions ui               # browse, label and export logged sessions

The app holds no global state: everything comes in through the constructor (the Settings, and
in tests an explicit policy and engine). Loading a model can take seconds, so it happens in a
thread worker while a notice is shown; when nothing can be loaded the app still opens, on the
no-model screen. Actions are reachable by key and from the command palette (ctrl+p).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from agent.settings import Settings
from tui.screens.chat import ChatAgent, ChatScreen
from tui.screens.help import HelpScreen
from tui.screens.no_model import NoModelScreen
from tui.screens.prompt import AskText


@dataclass
class Resolved:
    """A policy to chat with (or None, with `reason` and `howto` saying why and what to do)."""

    policy: Any | None
    lines: list[tuple[str, str]] = field(default_factory=list)  # shown in the side panel
    reason: str = ""
    howto: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


Resolver = Callable[[Settings], Resolved]


class RestoApp(App):
    TITLE = "resto"
    SUB_TITLE = "book a table"
    CSS_PATH = "styles.tcss"
    BINDINGS = [
        Binding("f1", "help", "Help"),
        Binding("question_mark", "help", "Help", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        mode: str = "chat",
        policy: Any | None = None,
        engine: Any | None = None,
        resolver: Resolver | None = None,
        replay: Any | None = None,
        log: Any | None = None,
    ) -> None:
        super().__init__()
        if mode not in ("chat", "replay", "sessions"):
            raise ValueError(f"unknown mode {mode!r}")
        self.settings = settings
        self.mode = mode
        self._policy = policy
        self._engine = engine
        self.resolver = resolver or default_resolver
        self.replay = replay  # tui.replay.ReplaySetup for mode="replay"
        self._log = log
        self.resolved: Resolved | None = None

    # -- start-up -----------------------------------------------------------------------------
    def on_mount(self) -> None:
        if self.mode == "replay":
            from tui.screens.replay import ReplayScreen

            self.push_screen(ReplayScreen(self.replay))
        elif self.mode == "sessions":
            from tui.screens.sessions import SessionsScreen

            self.push_screen(SessionsScreen(self.session_log()))
        elif self._policy is not None:
            self._open_chat(Resolved(self._policy, [("model", getattr(self._policy, "description", "?"))]))
        else:
            self.notify("Loading the model…", timeout=3)
            self._resolve(self.settings)

    @work(thread=True, exclusive=True, group="resolve")
    def _resolve(self, settings: Settings) -> None:
        try:
            resolved = self.resolver(settings)
        except Exception as exc:  # any failure to load ends on the no-model screen, never a traceback
            resolved = Resolved(None, reason=f"{type(exc).__name__}: {exc}")
        self.call_from_thread(self._open_chat, resolved)

    def _open_chat(self, resolved: Resolved) -> None:
        if resolved.policy is None:
            from tui.screens.no_model import DEFAULT_HOWTO

            if isinstance(self.screen, NoModelScreen):
                self.pop_screen()
            self.push_screen(NoModelScreen(resolved.reason, resolved.howto or DEFAULT_HOWTO))
            return
        self.resolved = resolved
        agent = self.chat_agent(resolved)
        self._warn_if_no_database()
        chat = next((s for s in self.screen_stack if isinstance(s, ChatScreen)), None)
        if chat is not None:
            chat.replace_session(agent)
            while self.screen is not chat:
                self.pop_screen()
            return
        if isinstance(self.screen, NoModelScreen):
            self.switch_screen(ChatScreen(agent))
        else:
            self.push_screen(ChatScreen(agent))

    def _warn_if_no_database(self) -> None:
        """Tools fail on an unbuilt database; say how to build it instead of letting every search fail."""
        from sqlalchemy import inspect

        try:
            built = inspect(self.engine).has_table("restaurants")
        except Exception as exc:  # noqa: BLE001 - shown, never raised
            self.notify(f"Cannot open the database: {exc}", severity="error", markup=False, timeout=15)
            return
        if not built:
            self.notify("The restaurant database is not built yet: run `resto db build` (searches will fail).",
                        severity="warning", markup=False, timeout=15)

    # -- the pieces a chat needs ----------------------------------------------------------------
    @property
    def engine(self) -> Any:
        if self._engine is None:
            from backend.db import make_engine

            self._engine = make_engine(self.settings.db_url)
        return self._engine

    def session_log(self) -> Any:
        if self._log is None:
            from agent.sessionlog import SessionLog

            self._log = SessionLog(self.engine)
        return self._log

    def chat_agent(self, resolved: Resolved) -> ChatAgent:
        from agent.loop import AgentSession

        settings = self.settings
        engine = self.engine
        log = self.session_log()
        holder: dict[str, Any] = {}

        def make_session(on_event, confirm):
            session = AgentSession(
                resolved.policy,
                engine,
                confirm_bookings=settings.confirm_bookings,
                max_steps=settings.max_steps,
                tool_result_role=settings.tool_result_role,
                log=log,
                on_event=on_event,
                confirm=confirm if settings.confirm_bookings else None,
                metadata={"ui": "tui", **resolved.metadata},
            )
            holder["session"] = session
            return session

        def reservations() -> list[dict[str, Any]]:
            session = holder.get("session")
            return session_reservations(engine, session.session_id) if session else []

        return ChatAgent(make_session, resolved.lines or [("model", resolved.policy.description)], reservations,
                         settings.confirm_bookings)

    # -- actions (keys and the command palette) ---------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help: keys", "Show every key binding", self.action_help)
        if isinstance(screen, ChatScreen):
            yield SystemCommand("New session", "Start a fresh conversation (ctrl+n)", screen.action_new_session)
            yield SystemCommand("Export session as Markdown", "Write the conversation to a .md file",
                                lambda: screen.action_export("md"))
            yield SystemCommand("Export session as JSON", "Write the conversation as a JSON trace",
                                lambda: screen.action_export("json"))
            yield SystemCommand("Copy message", "Copy the focused message or the last reply (ctrl+y)",
                                screen.action_copy_message)
            yield SystemCommand("Stop generating", "Cancel the running turn (Esc)", screen.action_stop)
            yield SystemCommand("Toggle side panel", "Show/hide reservations and stats (ctrl+b)",
                                screen.action_toggle_side)
        if isinstance(screen, ChatScreen | NoModelScreen):
            yield SystemCommand("Switch model", "Load another local model (path or hub id)",
                                lambda: self.ask_switch("model"))
            yield SystemCommand("Switch adapter", "Use a LoRA adapter on the local model",
                                lambda: self.ask_switch("adapter"))
            yield SystemCommand("Switch endpoint", "Use an OpenAI-compatible endpoint",
                                lambda: self.ask_switch("endpoint"))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def ask_switch(self, what: str) -> None:
        current = getattr(self.settings, what) or ""
        questions = {
            "model": "Model: a local directory or a hub id",
            "adapter": "LoRA adapter directory (empty: none)",
            "endpoint": "OpenAI-compatible endpoint base URL, e.g. http://127.0.0.1:8000/v1",
        }

        def done(value: str | None) -> None:
            if value is not None or what == "adapter":
                self.apply_switch(what, value)

        self.push_screen(AskText(questions[what], str(current)), done)

    def switch_model(self, value: str) -> None:
        """From the no-model screen: a URL is an endpoint, anything else a model."""
        self.apply_switch("endpoint" if value.startswith(("http://", "https://")) else "model", value)

    def apply_switch(self, what: str, value: str | None) -> None:
        update: dict[str, Any] = {what: value}
        if what == "model":
            update["endpoint"] = None  # a local model replaces an endpoint
        self.settings = self.settings.model_copy(update=update)
        self.notify(f"Loading {what}: {value or 'none'}…", markup=False)
        self._resolve(self.settings)

    def export_session(self, session: Any, fmt: str) -> Path | None:
        """Write the chat to $RESTO_HOME/exports/<session>.md|.json and say where."""
        out_dir = self.settings.home / "exports"
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            path = out_dir / f"{session.session_id}.{fmt}"
            meta = {"session_id": session.session_id,
                    "model": dict(self.resolved.lines) if self.resolved else {}}
            if fmt == "md":
                path.write_text(session_markdown(session.messages, meta), encoding="utf-8")
            else:
                path.write_text(json.dumps({**meta, "messages": session.messages}, indent=2,
                                           ensure_ascii=False), encoding="utf-8")
        except OSError as exc:
            self.notify(f"Export failed: {exc}", severity="error", markup=False)
            return None
        self.notify(f"Exported to {path}", markup=False)
        return path

    def copy_text(self, text: str) -> str:
        """Copy with OSC 52 (works over SSH in most terminals); since a terminal may ignore it
        silently, also use a system clipboard tool when there is one, else save to a file."""
        self.copy_to_clipboard(text)
        how = "OSC 52"
        for tool in (["wl-copy"], ["xclip", "-selection", "clipboard"], ["xsel", "-b", "-i"], ["pbcopy"]):
            if shutil.which(tool[0]):
                try:
                    subprocess.run(tool, input=text.encode(), timeout=2, check=True, capture_output=True)
                    how += f" + {tool[0]}"
                    break
                except (OSError, subprocess.SubprocessError):
                    continue
        path = self.settings.home / "clipboard.txt"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            how += f"; also saved to {path}"
        except OSError:
            pass
        self.notify(f"Copied ({how})", markup=False)
        return how


def session_markdown(messages: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """A readable Markdown transcript: user and assistant turns, tool calls and results."""
    lines = [f"# resto session {meta.get('session_id', '')}", ""]
    for key, value in (meta.get("model") or {}).items():
        lines.append(f"- {key}: {value}")
    lines.append("")
    for msg in messages:
        role = msg.get("role")
        if role == "assistant":
            for raw in msg.get("tool_calls") or []:
                fn = raw.get("function", {})
                args = fn.get("arguments", {})
                if fn.get("name") == "respond_to_user" and isinstance(args, dict):
                    lines += ["**resto:** " + str(args.get("message", "")), ""]
                else:
                    lines += [f"**tool call** `{fn.get('name')}`", "", "```json",
                              json.dumps(args, indent=2, ensure_ascii=False), "```", ""]
        elif role == "user" and _is_result(msg.get("content", "")):
            lines += ["**tool result**", "", "```json", str(msg.get("content")), "```", ""]
        elif role in ("user", "tool"):
            label = "you" if role == "user" else "tool result"
            lines += [f"**{label}:** {msg.get('content', '')}", ""]
    return "\n".join(lines)


def _is_result(content: str) -> bool:
    """A user message that is a service tool's result (json.dumps of a list)."""
    text = content.strip()
    if not text.startswith("["):
        return False
    try:
        return isinstance(json.loads(text), list)
    except ValueError:
        return False


def session_reservations(engine: Any, session_id: str) -> list[dict[str, Any]]:
    """Confirmed reservations the given chat session made, oldest first (for the side panel)."""
    from sqlalchemy import select

    from backend.db import session_scope
    from backend.models import Reservation

    with session_scope(engine, commit=False) as db:
        rows = db.scalars(
            select(Reservation)
            .where(Reservation.session_id == session_id, Reservation.status == "confirmed")
            .order_by(Reservation.id)
        ).all()
        return [
            {"restaurant_name": r.restaurant.name, "city": r.restaurant.city, "date": r.date, "time": r.time,
             "party_size": r.party_size}
            for r in rows
        ]


def default_resolver(settings: Settings) -> Resolved:
    """Model resolution (agent.resolve: flag → configured → cached hub model → demo model → none),
    then loading. A load failure is a `Resolved` without a policy and its one-sentence reason."""
    from agent.resolve import resolve_model

    res = resolve_model(settings)
    if not res.found:
        return Resolved(None, howto=res.explanation)
    lines = [("source", res.source)]
    if res.kind == "openai":
        from agent.llm_client import ChatClient, EndpointConfig
        from agent.policies.openai import OpenAIPolicy

        config = EndpointConfig(base_url=str(res.endpoint), model=str(res.model), api_key=settings.api_key,
                                max_retries=1)
        policy = OpenAIPolicy(ChatClient(config))
        lines = [("endpoint", str(res.endpoint)), ("model", str(res.model))] + lines
        if settings.guided_decoding or settings.grounded_decoding:  # said, not silently dropped
            lines.append(("decoding", "the server's own (--guided/--grounded are for local models)"))
        return Resolved(policy, lines, metadata={"model": res.model, "endpoint": res.endpoint})
    from agent.model_loading import ModelLoadError, load_model
    from agent.policies.hf import HFPolicy

    try:
        loaded = load_model(str(res.model), adapter=res.adapter, quantization=settings.quantization)
    except ModelLoadError as exc:
        return Resolved(None, reason=str(exc))
    lines = [("model", str(res.model)), ("adapter", res.adapter or "—"), ("device", loaded.device)] + lines
    settings, by_model = with_declared_decoding(settings, res.model)
    grounding, decoding = decoding_for(settings)
    if decoding:
        lines.append(("decoding", decoding + (" — the model's default; --no-grounded for free" if by_model else "")))
    return Resolved(HFPolicy(loaded, guided=settings.guided_decoding, grounding=grounding), lines,
                    metadata={"model": res.model, "adapter": res.adapter})


def with_declared_decoding(settings: Settings, model: str | None) -> tuple[Settings, bool]:
    """`settings` with grounded decoding decided: as set (flag or RESTO_GROUNDED_DECODING), else as the
    model declares it (agent.resolve.declares_grounded) unless `--guided` asked for guided alone; and
    whether the model's declaration decided it."""
    from agent.resolve import declares_grounded

    if settings.grounded_decoding is not None or settings.guided_decoding:
        return settings, False
    if declares_grounded(model):
        return settings.model_copy(update={"grounded_decoding": True}), True
    return settings, False


def decoding_for(settings: Settings) -> tuple[Any, str | None]:
    """The gazetteer for grounded decoding (None otherwise) and the side panel's decoding line.

    Grounded decoding takes the names it knows from the configured restaurant database. Without one
    (not built yet, unreadable or locked) it still grounds what the conversation itself carries (tool
    results, the user's times, dates and party sizes) and the panel says so, rather than refusing to chat."""
    if settings.grounded_decoding:
        from agent.grounding import Gazetteer
        from backend.errors import UserError

        try:
            return Gazetteer.from_url(settings.db_url), "grounded (conversation values, database names)"
        except UserError:
            return Gazetteer(), "grounded (conversation values; no database names: run `resto db build`)"
    if settings.guided_decoding:
        return None, "guided (tool schemas)"
    return None, None
