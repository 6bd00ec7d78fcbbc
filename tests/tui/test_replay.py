"""Replay: the comparison logic (scores, diffs, live-DB prefixes), `resto replay --no-tui`, and the
replay screen stepping through a benchmark test conversation."""

from __future__ import annotations

import json

import pytest

from agent.conversation import ToolCall
from agent.policies.replay import ReplayPolicy
from agent.settings import Settings
from cli.main import main
from tests.tui.conftest import wait_for
from tests.tui.fakes import ScriptPolicy
from tui.replay import Dialogue, DialogueIndex, ReplaySetup, arg_diff, compare_step, prefix_for, summarize

pytestmark = [pytest.mark.anyio, pytest.mark.data]

SEARCH = ToolCall("FindRestaurants", {"city": "San Jose", "cuisine": "Thai"})
CONVERSATION = [
    {"role": "user", "content": "Thai food in San Jose please"},
    SEARCH.to_message(),
    {"role": "user", "content": json.dumps([{"restaurant_name": "Recorded Place"}])},
    ToolCall("respond_to_user", {"message": "Thai Orchid is nice."}).to_message(),
]


@pytest.fixture(scope="module")
def index(data_dir):
    return DialogueIndex(Settings(data_dir=data_dir))


def test_index_has_benchmark_tests_and_sgd_restaurant_dialogues(index):
    ids = {d.id for d in index.dialogues}
    assert {f"test-{i:02d}" for i in range(34)} <= ids and "1_00000" in ids
    assert all(d.source == "sgd" for d in index.dialogues if not d.id.startswith("test-"))
    hits = index.search("Katana-ya")
    assert hits and all("katana-ya" in d.text().lower() for d in hits)


def test_reference_policy_scores_every_turn_one(index):
    dialogue = index.get("test-05")
    results = [compare_step(dialogue, i, ReplayPolicy(dialogue.messages)) for i in range(len(dialogue.assistant_turns()))]
    s = summarize(dialogue.id, results)
    assert s.mean_staged == 1.0 and s.exact == s.steps == len(dialogue.assistant_turns())


def test_staged_score_and_diff_for_a_wrong_argument():
    dialogue = Dialogue("x", "test", CONVERSATION)
    wrong = ToolCall("FindRestaurants", {"city": "San Jose", "cuisine": "Mexican", "price_range": "moderate"})
    result = compare_step(dialogue, 0, ScriptPolicy([wrong]))
    assert result.score == 0.5  # same function, different argument keys
    assert {(d.key, d.status) for d in result.diff} == {("city", "same"), ("cuisine", "changed"),
                                                        ("price_range", "extra")}
    assert compare_step(dialogue, 1, ScriptPolicy([ToolCall("respond_to_user", {"message": "hm"})])).score == 0.75
    assert arg_diff({"a": 1}, {})[0].status == "missing"


def test_a_reply_naming_a_restaurant_the_conversation_never_gave_is_flagged():
    from agent.grounding import Gazetteer

    gazetteer = Gazetteer({"restaurant_name": ["Recorded Place", "Thai Orchid"]})
    dialogue = Dialogue("x", "test", CONVERSATION)
    # the recording's search returned Recorded Place; the model recommends Thai Orchid
    made_up = compare_step(dialogue, 1, ScriptPolicy([ToolCall("respond_to_user", {"message": "Try Thai Orchid."})]),
                           gazetteer=gazetteer)
    assert made_up.unbacked == ["Thai Orchid"] and made_up.to_json()["unbacked"] == ["Thai Orchid"]
    returned = compare_step(dialogue, 1, ScriptPolicy([ToolCall("respond_to_user", {"message": "Recorded Place."})]),
                            gazetteer=gazetteer)
    assert returned.unbacked == []
    assert compare_step(dialogue, 1, ScriptPolicy([ToolCall("respond_to_user", {"message": "Try Thai Orchid."})])
                        ).unbacked == []  # no database: no check


def test_the_name_check_shares_a_grounded_policy_s_gazetteer(tmp_path):
    from agent.grounding import Gazetteer
    from tui.replay import name_gazetteer

    no_database = Settings(db=str(tmp_path / "missing.db"))
    policy = ScriptPolicy([])
    assert name_gazetteer(no_database, policy) is None  # nothing to read, nothing shared
    policy.grounding = Gazetteer({"restaurant_name": ["Thai Orchid"]})
    assert name_gazetteer(no_database, policy) is policy.grounding  # shared: the database is not read


def test_prefix_tool_results_from_the_recording_or_the_live_db(engine):
    dialogue = Dialogue("x", "test", CONVERSATION)
    recorded = prefix_for(dialogue, 3)
    assert "Recorded Place" in recorded[2]["content"]
    live = prefix_for(dialogue, 3, engine)
    assert json.loads(live[2]["content"])[0]["restaurant_name"] == "Thai Orchid"
    assert dialogue.messages[2]["content"] == recorded[2]["content"]  # the recording is untouched


def test_no_tui_prints_json_lines_and_a_summary(data_dir, capsys):
    assert main(["--data-dir", str(data_dir), "replay", "test-03", "--no-tui", "--reference"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    steps, summary = lines[:-1], lines[-1]["summary"]
    assert all(s["staged_tool_call"] == 1.0 and s["diff"] == [] for s in steps)
    assert summary["steps"] == len(steps) and summary["mean_staged"] == 1.0


def test_unknown_dialogue_is_a_clear_error(data_dir, capsys):
    assert main(["--data-dir", str(data_dir), "replay", "nope", "--no-tui", "--reference"]) == 2
    assert "No dialogue 'nope'" in capsys.readouterr().err


async def test_replay_screen_steps_and_runs_all(index, settings):
    from agent.grounding import Gazetteer
    from tui.app import RestoApp
    from tui.widgets.step import StepView

    dialogue = index.get("test-05")
    wrong_first = ScriptPolicy([ToolCall("respond_to_user", {"message": "Which city? Thai Orchid is nice."})])

    class Mixed:  # turn 1 from the script (the wrong function), the rest from the reference
        description = "mixed test policy"

        def __init__(self):
            self.reference = ReplayPolicy(dialogue.messages)

        def next_call(self, messages, **kw):
            if sum(m["role"] == "assistant" for m in messages) == 0:
                return wrong_first.next_call(messages, **kw)
            return self.reference.next_call(messages, **kw)

    gazetteer = Gazetteer({"restaurant_name": ["Thai Orchid"]})  # the model's reply names it; nothing gave it
    setup = ReplaySetup(index, Mixed(), dialogue_id="test-05", gazetteer=gazetteer)
    app = RestoApp(settings, mode="replay", replay=setup)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await pilot.press("n")
        await wait_for(pilot, lambda: len(screen.results) == 1)
        first = screen.query_one(StepView)
        assert first.result.score == 0.25 and "Which city?" in str(first.query_one(".prediction").render())
        assert str(first.query_one(".unbacked").render()).startswith("Not from a search in this chat: Thai Orchid.")
        await pilot.press("r")
        total = len(dialogue.assistant_turns())
        await wait_for(pilot, lambda: len(screen.results) == total and not screen.running)
        summary = str(screen.query_one("#replay-summary").render())
        assert f"exact {total - 1}/{total}" in summary


async def test_replay_screen_search_and_pick(index, settings):
    from textual.widgets import DataTable

    from tui.app import RestoApp

    app = RestoApp(settings, mode="replay", replay=ReplaySetup(index, ScriptPolicy([]), search="Katana-ya"))
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#replay-list", DataTable)
        assert 0 < table.row_count < 10
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.dialogue is not None)
        assert "katana-ya" in app.screen.dialogue.text().lower()
