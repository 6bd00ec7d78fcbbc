"""A modal asking the person to confirm a booking before ReserveRestaurant runs."""

from __future__ import annotations

import json

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from agent.conversation import ToolCall


class ConfirmBooking(ModalScreen[bool]):
    """Returns True (book) or False (don't). `y`/`enter` books, `n`/`escape` declines."""

    BINDINGS = [
        Binding("y", "answer(True)", "Book it"),
        Binding("n,escape", "answer(False)", "Don't book"),
    ]

    def __init__(self, call: ToolCall) -> None:
        super().__init__()
        self.call = call

    def compose(self) -> ComposeResult:
        lines = "\n".join(f"  {k}: {v}" for k, v in self.call.arguments.items())
        with Vertical(id="confirm-box"):
            yield Static(Text("Book this table?", style="bold"), markup=False)
            yield Static(Text(lines or json.dumps(self.call.arguments)), markup=False, id="confirm-args")
            with Horizontal(id="confirm-buttons"):
                yield Button("Book (y)", variant="success", id="yes")
                yield Button("Don't book (n)", variant="error", id="no")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)
