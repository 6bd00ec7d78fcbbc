"""The replay screen: pick a dialogue, then step through it against the model.

Left: the dialogues (SGD Restaurants_1 and the benchmark's test conversations), searchable.
Right: one card per assistant turn — reference vs. the model's call for the same prefix, the
staged score, the argument diff — and a summary once the dialogue has run to the end.
Predictions run in a thread worker (a model call can take seconds).
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from tui.replay import Dialogue, ReplaySetup, StepResult, compare_step, summarize
from tui.widgets.step import StepView


class StepDone(Message):
    def __init__(self, result: StepResult, context: str, last: bool) -> None:
        super().__init__()
        self.result, self.context, self.last = result, context, last


class ReplayScreen(Screen):
    BINDINGS = [
        Binding("n,enter", "next_step", "Next step"),
        Binding("r", "run_all", "Run all"),
        Binding("slash", "search", "Search"),
        Binding("escape", "stop", "Stop", show=False),
        Binding("f1", "app.help", "Help"),
    ]

    def __init__(self, setup: ReplaySetup) -> None:
        super().__init__(id="replay")
        self.setup = setup
        self.dialogue: Dialogue | None = None
        self.results: list[StepResult] = []
        self.running = False
        self._stop = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="replay-body"):
            with Vertical(id="replay-pick"):
                yield Input(value=self.setup.search or "", placeholder="/ search dialogues (id or text)",
                            id="replay-search")
                table: DataTable = DataTable(cursor_type="row", id="replay-list")
                table.add_columns("id", "source", "first user message")
                yield table
            with Vertical(id="replay-main"):
                yield Static(Text(""), id="replay-title", markup=False)
                yield VerticalScroll(id="replay-steps")
                yield Static(Text(""), id="replay-summary", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        where = "live database (dry run)" if self.setup.engine is not None else "the recording"
        self.sub_title = f"{getattr(self.setup.policy, 'description', 'model')} · tool results from {where}"
        self._fill(self.setup.search)
        if self.setup.dialogue_id:
            self.open(self.setup.index.get(self.setup.dialogue_id))
        else:
            self.query_one("#replay-list", DataTable).focus()

    # -- picking ----------------------------------------------------------------------------
    def _fill(self, search: str | None) -> None:
        table = self.query_one("#replay-list", DataTable)
        table.clear()
        for d in self.setup.index.search(search):
            table.add_row(Text(d.id), Text(d.source), Text(d.title), key=d.id)

    @on(Input.Changed, "#replay-search")
    def _search(self, event: Input.Changed) -> None:
        self._fill(event.value.strip() or None)

    @on(Input.Submitted, "#replay-search")
    def _search_done(self, event: Input.Submitted) -> None:
        self.query_one("#replay-list", DataTable).focus()

    @on(DataTable.RowSelected, "#replay-list")
    def _picked(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.open(self.setup.index.get(str(event.row_key.value)))

    def open(self, dialogue: Dialogue) -> None:
        self.dialogue = dialogue
        self.results = []
        self._stop = False
        self.query_one("#replay-steps", VerticalScroll).remove_children()
        self.query_one("#replay-summary", Static).update(Text(""))
        n = len(dialogue.assistant_turns())
        self.query_one("#replay-title", Static).update(
            Text(f"{dialogue.id} ({dialogue.source}, {n} assistant turns): {dialogue.title}")
        )
        self.query_one("#replay-steps").focus()

    # -- stepping ---------------------------------------------------------------------------
    def action_search(self) -> None:
        self.query_one("#replay-search", Input).focus()

    def action_next_step(self) -> None:
        if self.focused is self.query_one("#replay-list"):
            return  # Enter on the list opens a dialogue (RowSelected)
        self._advance(run_all=False)

    def action_run_all(self) -> None:
        self._advance(run_all=True)

    def action_stop(self) -> None:
        self._stop = True

    def _advance(self, run_all: bool) -> None:
        if self.dialogue is None or self.running:
            return
        if len(self.results) >= len(self.dialogue.assistant_turns()):
            self.app.notify("This dialogue is finished; pick another one.")
            return
        self.running = True
        self._stop = False
        self._run(self.dialogue, len(self.results), run_all)

    @work(thread=True, exclusive=True, group="replay")
    def _run(self, dialogue: Dialogue, start: int, run_all: bool) -> None:
        total = len(dialogue.assistant_turns())
        step = start
        while step < total:
            index = dialogue.assistant_turns()[step]
            context = next((str(m.get("content", "")) for m in reversed(dialogue.messages[:index])
                            if m.get("role") == "user"), "")
            result = compare_step(dialogue, step, self.setup.policy, self.setup.engine, gazetteer=self.setup.gazetteer)
            step += 1
            last = step >= total or not run_all or self._stop
            self.post_message(StepDone(result, context, last))
            if last:
                break

    def on_step_done(self, message: StepDone) -> None:
        if self.dialogue is None or message.result.dialogue_id != self.dialogue.id:
            return
        self.results.append(message.result)
        steps = self.query_one("#replay-steps", VerticalScroll)
        steps.mount(StepView(message.result, message.context))
        steps.scroll_end(animate=False)
        if message.last:
            self.running = False
        if len(self.results) == len(self.dialogue.assistant_turns()):
            s = summarize(self.dialogue.id, self.results)
            text = Text(f"summary: {s.steps} turns · mean staged {s.mean_staged:.3f} · exact {s.exact}/{s.steps}"
                        f" · right function {s.name_correct}/{s.steps}\n")
            for fn, v in s.by_function.items():
                text.append(f"  {fn}: {v['steps']} turns, mean {v['mean_staged']:.3f}\n")
            self.query_one("#replay-summary", Static).update(text)
