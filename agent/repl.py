"""`resto chat --plain`: the agent in a plain line-based terminal, for scripts and machines without a TUI.

    resto chat --plain                          # interactive: type, read the reply, repeat
    printf 'Thai food in San Jose\\n' | resto chat --plain --model runs/demo   # scripted

One line of input is one user turn. Lines starting with `/` are commands: `/new` starts a new
session, `/quit` (or end of input) ends. Tool calls and results are shown as indented `·` lines;
the reply is streamed as the model writes it. Every turn is written to the session log (see
`resto sessions list`). Ctrl-C while the model works cancels that turn; Ctrl-C at the prompt quits.

The TUI package owns `resto chat` and calls `run_repl` when `--plain` is given.
"""

from __future__ import annotations

import json
import threading
from typing import Any, TextIO

from agent.events import AgentError, ConfirmationNeeded, Event, Reply, TextDelta, ToolCallMade, ToolResult
from agent.loop import AgentSession, TurnResult
from agent.name_check import warning
from agent.settings import Settings

HELP = "Type a message and press Enter. /new starts a new conversation, /quit ends."


class _Printer:
    """Turns loop events into terminal lines (called on the loop's worker thread)."""

    def __init__(self, out: TextIO):
        self.out = out
        self.streaming = False

    def write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def end_stream(self) -> None:
        if self.streaming:
            self.write("\n")
            self.streaming = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            if not self.streaming:
                self.write("resto: ")
                self.streaming = True
            self.write(event.text)
        elif isinstance(event, ToolCallMade) and event.call.message is None:
            self.end_stream()
            self.write(f"  · {event.call.name}({json.dumps(event.call.arguments, ensure_ascii=False)})\n")
        elif isinstance(event, ToolResult):
            if event.error:
                self.write(f"  · error: {event.error}\n")
            else:
                self.write(f"  · {len(event.results)} result{'s' if len(event.results) != 1 else ''}\n")
        elif isinstance(event, ConfirmationNeeded):
            self.end_stream()
            self.write("  · booking held until you confirm\n")
        elif isinstance(event, AgentError):
            self.end_stream()
            self.write(f"  · {'error' if event.fatal else 'retrying'}: {event.message}\n")
        elif isinstance(event, Reply):
            if self.streaming:
                self.end_stream()  # the text is already on screen
            else:
                self.write(f"resto: {event.text}\n")
            if event.unbacked:
                self.write(f"  · {warning(event.unbacked)}\n")


def _send(session: AgentSession, text: str) -> TurnResult:
    """Run the turn on a worker thread so Ctrl-C at the terminal can cancel it cleanly."""
    cancel = threading.Event()
    box: dict[str, Any] = {}
    worker = threading.Thread(
        target=lambda: box.update(result=session.send(text, cancel=cancel)), daemon=True
    )
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.1)
    except KeyboardInterrupt:
        cancel.set()
        worker.join()
    return box["result"]


def run_repl(
    settings: Settings,
    policy: Any,
    engine: Any,
    stdin: TextIO,
    stdout: TextIO,
    *,
    log: Any | None = None,
    confirm_bookings: bool | None = None,
    metadata: dict[str, Any] | None = None,
) -> int:
    """Chat on `stdin`/`stdout` until /quit or end of input. Returns the exit code (0).

    `metadata` goes to the session log (`model`, `adapter`, `endpoint` name what answered; without
    them the policy's description is logged as the model)."""
    from agent.sessionlog import SessionLog

    interactive = bool(getattr(stdin, "isatty", lambda: False)())
    printer = _Printer(stdout)
    session = AgentSession(
        policy,
        engine,
        confirm_bookings=settings.confirm_bookings if confirm_bookings is None else confirm_bookings,
        max_steps=settings.max_steps,
        tool_result_role=settings.tool_result_role,
        log=log if log is not None else SessionLog(engine),
        on_event=printer,
        metadata={"ui": "repl", **(metadata or {})},
    )
    printer.write(f"resto · {policy.description} · {HELP}\n")
    turns = 0
    while True:
        if interactive:
            printer.write("you: ")
        try:
            line = stdin.readline()
        except KeyboardInterrupt:
            printer.write("\n")
            break
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if text in ("/quit", "/exit", "/q"):
            break
        if text == "/help":
            printer.write(HELP + "\n")
            continue
        if text == "/new":
            if turns:
                printer.write(f"(session {session.session_id[:12]} saved)\n")
            session.reset()
            turns = 0
            printer.write("new conversation\n")
            continue
        if not interactive:
            printer.write(f"you: {text}\n")  # a transcript of a piped session reads like a dialogue
        result = _send(session, text)
        turns += 1
        if result.cancelled:
            printer.end_stream()
            printer.write("  · cancelled\n")
    if turns:
        printer.write(
            f"session {session.session_id[:12]} saved · resto sessions show {session.session_id[:12]}\n"
        )
    return 0
