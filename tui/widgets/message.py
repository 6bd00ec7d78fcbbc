"""A chat message: user, assistant, error or notice text, always shown literally (never markup).

Model and user text can contain `[bold]`, `[/]` or `[link=…]`; Textual would read those as
markup in a plain string, so every update goes through `rich.text.Text`, which is never parsed.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

ROLES = ("user", "assistant", "error", "notice")


class MessageBubble(Static, can_focus=True):
    """One message. Focusable so a person can pick it (Tab / click) and copy it with `c`."""

    DEFAULT_CSS = """
    MessageBubble { height: auto; }
    """

    def __init__(self, text: str, role: str = "assistant", *, id: str | None = None) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        self.role = role
        self.text = text
        super().__init__(Text(text), markup=False, classes=f"bubble -{role}", id=id)
        self.border_title = {"user": "you", "assistant": "resto", "error": "error", "notice": ""}[role]

    def set_text(self, text: str) -> None:
        self.text = text
        self.update(Text(text))

    def append(self, delta: str) -> None:
        """Add a streamed piece of text."""
        self.set_text(self.text + delta)
