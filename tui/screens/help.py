"""The help screen: every key binding, with aliases for keys some terminals do not send."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

# (keys, what it does). Kept here, and in the README's TUI section, in the same words.
KEYS: list[tuple[str, str]] = [
    ("Enter", "send the message (ctrl+enter is not sent by most terminals, so Enter sends; ctrl+e is end-of-line in the prompt)"),
    ("Esc", "stop generating — the model stops decoding; in a dialog: cancel / don't book"),
    ("ctrl+p", "command palette: every action (new session, switch model/adapter/endpoint, export, copy)"),
    ("ctrl+n", "new session"),
    ("ctrl+y", "copy the focused message (Tab to it), else the last reply — OSC 52, saved to a file too"),
    ("ctrl+s", "export (save) the session as Markdown (JSON from the palette)"),
    ("ctrl+b", "show / hide the side panel"),
    ("Tab / shift+Tab", "move focus: prompt, messages, tool cards (Enter / click expands a card)"),
    ("y / n", "in the booking dialog: book / don't book"),
    ("F1", "this help (also `?` when the prompt is not focused)"),
    ("ctrl+q", "quit"),
    ("replay: n / Enter, r, a", "next step, run the whole dialogue, all + summary"),
    ("sessions: / , g, b, e, x", "search, mark turn good / bad, relabel the call, export selected"),
]


def keys_table() -> Table:
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
    table.add_column("key")
    table.add_column("action")
    for key, what in KEYS:
        table.add_row(Text(key), Text(what))
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(Text("resto — keys", style="bold"), markup=False)
            yield Static(keys_table(), markup=False)
            yield Static(Text("Esc closes this screen."), markup=False)

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
