"""One replay step: the reference call beside the model's, the staged score and the argument diff."""

from __future__ import annotations

import json

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from agent.conversation import ToolCall
from agent.name_check import warning

STATUS_STYLE = {"same": "green", "changed": "yellow", "missing": "red", "extra": "magenta"}


def call_text(call: ToolCall | None, raw: str = "", error: str | None = None) -> Text:
    if call is None:
        text = Text("no call", style="bold red")
        if error:
            text.append(f"\n{error}")
        if raw:
            text.append(f"\nraw: {raw[:300]}")
        return text
    text = Text(call.name, style="bold")
    if call.message is not None:
        text.append("\n" + call.message)
    else:
        for key, value in call.arguments.items():
            text.append(f"\n  {key}: ")
            text.append(json.dumps(value, ensure_ascii=False))
    return text


def score_class(score: float) -> str:
    return f"-s{int(round(score * 100))}"


class StepView(Vertical):
    """Built from a `tui.replay.StepResult`."""

    def __init__(self, result, context: str = "") -> None:
        super().__init__(classes=f"step {score_class(result.score)}")
        self.result = result
        self.context = context
        self.border_title = f"turn {result.step + 1} · staged {result.score:.2f}"

    def compose(self) -> ComposeResult:
        r = self.result
        if self.context:
            yield Static(Text("user: " + self.context, style="italic"), markup=False, classes="context")
        with Horizontal():
            with Vertical(classes="side"):
                yield Static(Text("reference", style="underline"), markup=False)
                yield Static(call_text(r.reference), markup=False, classes="reference")
            with Vertical(classes="side"):
                yield Static(Text("model", style="underline"), markup=False)
                yield Static(call_text(r.prediction, r.raw, r.error), markup=False, classes="prediction")
        changed = [d for d in r.diff if d.status != "same"]
        if r.prediction is not None and r.prediction.name == r.reference.name and changed:
            diff = Text()
            for d in changed:
                diff.append(f"{d.status:>8} ", style=STATUS_STYLE[d.status])
                diff.append(f"{d.key}: {json.dumps(d.reference, ensure_ascii=False)} → "
                            f"{json.dumps(d.prediction, ensure_ascii=False)}\n")
            yield Static(diff, markup=False, classes="diff")
        if r.unbacked:
            yield Static(Text(warning(r.unbacked), style="bold"), markup=False, classes="unbacked")
