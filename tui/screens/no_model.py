"""Shown when no model could be resolved: one screen that says how to get one.

The app always opens (a newcomer never sees a traceback); this screen explains the three ways
to a working chat and lets the person point at a path or endpoint right here.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

DEFAULT_HOWTO = """\
resto needs a language model to chat, and none could be loaded.

Any one of these works:

  1. Build the offline demo model (a small model trained here, ~20 CPU minutes):
       resto model demo
  2. Point at an OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp, `resto serve`):
       resto chat --endpoint http://127.0.0.1:8000/v1
  3. Pass a local model directory or a cached hub id:
       resto chat --model /path/to/model   (optionally --adapter /path/to/lora)

Or type a model path or an endpoint URL below and press Enter.
"""


class NoModelScreen(Screen):
    BINDINGS = [Binding("f1", "app.help", "Help"), Binding("ctrl+q", "app.quit", "Quit")]

    def __init__(self, reason: str = "", howto: str = DEFAULT_HOWTO) -> None:
        super().__init__(id="no-model")
        self.reason = reason
        self.howto = howto

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="no-model-box"):
            yield Static(Text("No model available", style="bold"), markup=False)
            if self.reason:
                yield Static(Text(self.reason), markup=False, id="no-model-reason")
            yield Static(Text(self.howto), markup=False, id="no-model-howto")
            yield Input(placeholder="model path, hub id or http://… endpoint", id="model-source")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#model-source", Input).focus()

    @on(Input.Submitted, "#model-source")
    def _use(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if value:
            self.app.switch_model(value)
