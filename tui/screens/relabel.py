"""A modal form for correcting an assistant call by hand (the sessions screen's `e`).

A `Select` picks the function; below it, one labelled `Input` per parameter of that function's
schema (required ones marked `*`). The schemas come from `agent.tools.tool_schemas()`, the same
list the model sees, so the form always offers exactly the tools and parameters the model has.

Save (Enter in a field, ctrl+s, or the button) validates with `validate_call`. A bad call keeps the
modal open with the error shown inside it: nothing typed is lost, the person fixes it and saves
again. Esc cancels and returns None.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from agent.conversation import ToolCall
from agent.tools import CallValidationError, tool_schemas, validate_call


class RelabelCall(ModalScreen[ToolCall | None]):
    """Returns the corrected, validated call, or None on Esc / Cancel."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]

    def __init__(self, call: ToolCall, tools: list[dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.tools = tools if tools is not None else tool_schemas()
        self.functions = {t["function"]["name"]: t["function"] for t in self.tools}
        # Every value ever typed or loaded, by parameter name. Switching the function rebuilds the
        # fields from here, so a value survives a switch to a tool without that parameter and back.
        self.values: dict[str, str] = {k: str(v) for k, v in call.arguments.items() if v is not None}
        # An unknown name (a model can call a tool that does not exist) is shown as no choice
        # rather than silently replaced by the first tool.
        self.function: str | None = call.name if call.name in self.functions else None

    def compose(self) -> ComposeResult:
        with Vertical(id="relabel-box"):
            yield Static(Text("Corrected call", style="bold"), markup=False)
            yield Select([(name, name) for name in self.functions], prompt="Function",
                         allow_blank=self.function is None,
                         value=self.function if self.function is not None else Select.NULL,
                         id="relabel-function")
            with Vertical(id="relabel-fields"):
                yield from self._fields()
            yield Static("", markup=False, id="relabel-error")
            with Horizontal(id="relabel-buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="relabel-save")
                yield Button("Cancel (esc)", id="relabel-cancel")
            yield Static(Text("* required · empty optional fields are left out", style="dim"), markup=False)

    def _fields(self) -> list[Horizontal]:
        """One row (label + input) per parameter of the chosen function, filled from `values`."""
        if self.function is None:
            return []
        params = self.functions[self.function]["parameters"]
        required = set(params.get("required", []))
        rows = []
        for name, prop in params.get("properties", {}).items():
            # Enums are listed in the placeholder: the allowed values are what people get wrong.
            hint = " | ".join(prop["enum"]) if prop.get("enum") else prop.get("description", "")
            field = Input(value=self.values.get(name, ""), placeholder=hint, id=f"arg-{name}",
                          tooltip=prop.get("description") or None)
            label = Label(Text(f"{name} *" if name in required else name,
                               style="bold" if name in required else ""), markup=False)
            rows.append(Horizontal(label, field, classes="relabel-field"))
        return rows

    def on_mount(self) -> None:
        # Start in the first field: changing a value is the usual correction, the function less so.
        inputs = self.query(".relabel-field Input")
        (inputs.first() if inputs else self.query_one("#relabel-function", Select)).focus()

    def _inputs(self) -> dict[str, Input]:
        return {i.id.removeprefix("arg-"): i for i in self.query(".relabel-field Input") if i.id}

    def _remember(self) -> None:
        for name, field in self._inputs().items():
            self.values[name] = field.value

    @on(Select.Changed, "#relabel-function")
    async def _switch(self, event: Select.Changed) -> None:
        function = None if event.value == Select.NULL else str(event.value)
        if function == self.function:
            return  # Select also reports its initial value; the fields are already built
        self._remember()
        self.function = function
        box = self.query_one("#relabel-fields", Vertical)
        # Await the removal so the new inputs' ids (arg-city…) never clash with the old ones.
        await box.remove_children()
        await box.mount_all(self._fields())
        self._show_error(None)

    def _show_error(self, message: str | None) -> None:
        error = self.query_one("#relabel-error", Static)
        error.update(Text(message or ""))
        error.display = message is not None

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.action_save()

    @on(Button.Pressed, "#relabel-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#relabel-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_save(self) -> None:
        if self.function is None:
            self._show_error("Choose a function.")
            return
        # Empty optional fields are left out (not sent as ""); a missing required one is reported
        # by validate_call like any other problem.
        arguments = {name: field.value.strip() for name, field in self._inputs().items() if field.value.strip()}
        try:
            checked = validate_call(self.function, arguments, self.tools)
        except CallValidationError as exc:
            self._show_error(str(exc))  # the modal stays open with everything as typed
            return
        self.dismiss(ToolCall(self.function, checked))

    def action_cancel(self) -> None:
        self.dismiss(None)
