"""The chat screen: talk to the agent, watch its tool calls, confirm bookings.

The agent loop (`AgentSession.send`) is synchronous and may run a model for seconds, so every
turn runs in a thread worker. The loop's events arrive on that worker thread and are posted to
this screen as Textual messages (`post_message` is thread-safe), so widgets are only touched on
the UI thread. `Esc` sets the turn's cancel Event, which the policy checks between tokens: the
model stops decoding, not only the display.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static
from textual.worker import get_current_worker

from agent import events as ev
from agent.conversation import ToolCall
from agent.name_check import warning
from tui.screens.confirm import ConfirmBooking
from tui.widgets.message import MessageBubble
from tui.widgets.panels import ReservationLoader, ReservationsPanel, StatsPanel, TurnStats
from tui.widgets.tool_card import ToolCallCard


class AgentEvent(Message):
    """An agent-loop event, carried from the worker thread to the UI thread."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event


class TurnDone(Message):
    """The worker finished a turn: `error` is set when the loop itself raised."""

    def __init__(self, text: str, error: BaseException | None = None) -> None:
        super().__init__()
        self.text = text
        self.error = error


@dataclass
class ChatAgent:
    """What the chat screen needs from the app: a session factory and where to read reservations.

    `make_session(on_event, confirm)` returns an object with `send(text, cancel=)`, `reset()`,
    `messages` and `session_id` (an `agent.loop.AgentSession`).
    """

    make_session: Any
    model_lines: list[tuple[str, str]]
    reservations: ReservationLoader | None = None
    confirm_bookings: bool = True


class ChatScreen(Screen):
    BINDINGS = [
        Binding("escape", "stop", "Stop", tooltip="Stop generating (the model stops decoding)"),
        Binding("ctrl+n", "new_session", "New"),
        Binding("ctrl+y", "copy_message", "Copy"),
        Binding("ctrl+s", "export('md')", "Export"),
        Binding("ctrl+b", "toggle_side", "Panel", show=False),
        Binding("f1", "app.help", "Help"),
    ]

    def __init__(self, agent: ChatAgent) -> None:
        super().__init__(id="chat")
        self.agent = agent
        self.session = agent.make_session(self._post_event, self._confirm_from_worker)
        self.busy = False
        self._cancel: threading.Event | None = None
        self._streaming: MessageBubble | None = None
        self._cards: dict[str, ToolCallCard] = {}

    # -- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="chat-body"):
            with Vertical(id="chat-main"):
                yield VerticalScroll(id="log")
                yield Static(Text(""), id="status", markup=False)
                yield Input(placeholder="Ask for a table…  (Enter sends, Esc stops, F1 help)", id="prompt")
            with Vertical(id="side"):
                yield ReservationsPanel(self.agent.reservations, id="reservations")
                yield StatsPanel(id="stats")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(StatsPanel).set_model(self.agent.model_lines)
        self.query_one("#prompt", Input).focus()
        self._notice("Hi! Tell me what you'd like to eat and where — I can search restaurants and book a table.")

    # -- sending --------------------------------------------------------------------------
    @on(Input.Submitted, "#prompt")
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text or self.busy:
            return
        event.input.value = ""
        self.send(text)

    def send(self, text: str) -> None:
        self._mount(MessageBubble(text, "user"))
        self._set_busy(True)
        self._cancel = threading.Event()
        self._run_turn(text, self._cancel)

    @work(thread=True, exclusive=True, group="agent")
    def _run_turn(self, text: str, cancel: threading.Event) -> None:
        try:
            self.session.send(text, cancel=cancel)
        except Exception as exc:  # the loop should not raise; if it does, the UI survives it
            self.post_message(TurnDone(text, exc))
        else:
            self.post_message(TurnDone(text))

    def _post_event(self, event: Any) -> None:
        """The loop's on_event callback (worker thread)."""
        self.post_message(AgentEvent(event))

    def _confirm_from_worker(self, call: ToolCall) -> bool:
        """The loop's confirm callback (worker thread): show the modal, wait for the answer."""
        answered = threading.Event()
        answer = {"ok": False}

        def done(result: bool | None) -> None:
            answer["ok"] = bool(result)
            answered.set()

        worker = get_current_worker()
        self.app.call_from_thread(self.app.push_screen, ConfirmBooking(call), done)
        cancel = self._cancel
        while not answered.wait(0.05):
            # Esc, or the app closing (workers are cancelled then): no answer is a "no"
            if (cancel is not None and cancel.is_set()) or worker.is_cancelled:
                return False
        return answer["ok"]

    # -- events (UI thread) ---------------------------------------------------------------
    def on_agent_event(self, message: AgentEvent) -> None:
        event = message.event
        if isinstance(event, ev.CallStarted):
            self._status(f"thinking… (step {event.step}; Esc stops)")
        elif isinstance(event, ev.TextDelta):
            if self._streaming is None:
                self._streaming = MessageBubble("", "assistant")
                self._mount(self._streaming)
            self._streaming.append(event.text)
            self._scroll()
        elif isinstance(event, ev.ToolCallMade):
            if event.call.name != "respond_to_user":
                card = ToolCallCard(event.call)
                self._cards[event.call.id] = card
                self._mount(card)
                self._status(f"running {event.call.name}…")
        elif isinstance(event, ev.ToolResult):
            card = self._cards.get(event.call.id)
            if card is None:
                card = ToolCallCard(event.call)
                self._cards[event.call.id] = card
                self._mount(card)
            card.set_result(event.results, event.error)
            self.query_one(ReservationsPanel).refresh_rows()
        elif isinstance(event, ev.ConfirmationNeeded):
            self._notice("The model wants to book before you confirmed; it will ask you first.")
        elif isinstance(event, ev.Reply):
            if self._streaming is not None:
                self._streaming.set_text(event.text)
            else:
                self._mount(MessageBubble(event.text, "assistant"))
            self._streaming = None
            if event.unbacked:
                self._notice(warning(event.unbacked))
        elif isinstance(event, ev.AgentError):
            self._streaming = None
            self._mount(MessageBubble(event.message, "error"))
        elif isinstance(event, ev.TurnFinished):
            self.query_one(StatsPanel).set_turn(
                TurnStats(event.steps, event.latency_s, event.prompt_tokens, event.completion_tokens,
                          event.cancelled)
            )
            if event.cancelled:
                self._notice("Stopped.")

    def on_turn_done(self, message: TurnDone) -> None:
        self._streaming = None
        self._set_busy(False)
        if message.error is not None:
            self._mount(MessageBubble(f"The agent failed: {message.error}", "error"))
            prompt = self.query_one("#prompt", Input)
            if not prompt.value:
                prompt.value = message.text  # nothing the person typed is lost
        self.query_one(ReservationsPanel).refresh_rows()

    def on_unmount(self) -> None:
        if self._cancel is not None:
            self._cancel.set()  # a turn still running when the app closes stops at its next check

    # -- actions --------------------------------------------------------------------------
    def action_stop(self) -> None:
        if self.busy and self._cancel is not None:
            self._cancel.set()
            self._status("stopping…")

    def action_new_session(self) -> None:
        if self.busy:
            self.app.notify("Wait for the turn to finish (or press Esc).", severity="warning")
            return
        self.session.reset()
        self._cards.clear()
        self.query_one("#log", VerticalScroll).remove_children()
        self.query_one(ReservationsPanel).refresh_rows()
        self._notice("New session.")

    def action_toggle_side(self) -> None:
        side = self.query_one("#side")
        side.display = not side.display

    def action_copy_message(self) -> None:
        focused = self.focused
        if isinstance(focused, MessageBubble):
            text = focused.text
        else:
            bubbles = [b for b in self.query(MessageBubble) if b.role == "assistant"]
            if not bubbles:
                self.app.notify("Nothing to copy yet.", severity="warning")
                return
            text = bubbles[-1].text
        self.app.copy_text(text)

    def action_export(self, fmt: str) -> None:
        self.app.export_session(self.session, fmt)

    def replace_session(self, agent: ChatAgent) -> None:
        """Use another model (switch model/adapter/endpoint): a fresh session with it."""
        self.agent = agent
        self.session = agent.make_session(self._post_event, self._confirm_from_worker)
        self.query_one(StatsPanel).set_model(agent.model_lines)
        self._notice("Switched to " + ", ".join(f"{k}: {v}" for k, v in agent.model_lines) + " (new session).")

    # -- helpers --------------------------------------------------------------------------
    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        prompt = self.query_one("#prompt", Input)
        prompt.disabled = busy
        if not busy:
            self._status("")
            prompt.focus()
        else:
            self._status("thinking… (Esc stops)")

    def _status(self, text: str) -> None:
        self.query_one("#status", Static).update(Text(text))

    def _notice(self, text: str) -> None:
        self._mount(MessageBubble(text, "notice"))

    def _mount(self, widget) -> None:
        log = self.query_one("#log", VerticalScroll)
        log.mount(widget)
        self._scroll()

    def _scroll(self) -> None:
        self.query_one("#log", VerticalScroll).scroll_end(animate=False)
