"""bench/decision_fit.py: turn runs and the teacher-forced decision accuracy on a tiny model."""

import importlib.util
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer

from agent.trace_io import Trace
from tests.train.conftest import conversation

SPEC = importlib.util.spec_from_file_location("decision_fit", Path(__file__).parents[2] / "bench" / "decision_fit.py")
decision_fit = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(decision_fit)


def test_turn_runs_split_the_mask_into_turns():
    assert decision_fit.turn_runs([False, True, True, False, True, False, True, True]) == [[1, 2], [4], [6, 7]]
    assert decision_fit.turn_runs([]) == []


def test_value_spans_are_the_service_call_argument_values():
    text = '<tool_call>\n{"name": "FindRestaurants", "arguments": {"city": "San Jose", "cuisine": "Thai"}}\n</tool_call>'
    assert [text[a:b] for a, b in decision_fit.value_spans(text)] == ['"San Jose"', '"Thai"']
    reply = '<tool_call>\n{"name": "respond_to_user", "arguments": {"message": "Thai?"}}\n</tool_call>'
    assert decision_fit.value_spans(reply) == []  # a reply's text is no copied value
    assert decision_fit.value_spans("no call") == []


def test_fit_scores_every_turn_of_a_tiny_model(tiny_model_dir):
    small_traces = [Trace(conversation("Oakland", "Thai", "Thai Basil")), Trace(conversation("Dixon", "Pizza", "Alpha"))]
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    r = decision_fit.fit(model, tok, small_traces[:2])
    assert r["turns"] == 8  # four assistant calls per conversation
    assert 0.0 <= r["decision_acc"] <= 1.0 and r["loss"] > 1.0  # an untrained model: high loss
    assert 0.0 < r["decision_share"] < 1.0
    assert r["values"] == 2 * 5  # FindRestaurants(city, cuisine) + ReserveRestaurant(name, city, time) each
    assert r["value_acc"] == 0.0  # random weights copy nothing


def test_without_a_model_it_says_which_and_exits_skipped(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RESTO_HOME", str(tmp_path))  # no demo model there
    monkeypatch.setattr("sys.argv", ["decision_fit.py"])
    assert decision_fit.main() == decision_fit.SKIPPED
    err = capsys.readouterr().err
    assert str(tmp_path / "models" / "demo") in err and "resto model demo" in err
    monkeypatch.setattr("sys.argv", ["decision_fit.py", str(tmp_path / "nowhere")])
    assert decision_fit.main() == decision_fit.SKIPPED
    assert "nowhere" in capsys.readouterr().err


def test_run_all_lists_a_skipped_benchmark_and_does_not_fail(tmp_path, monkeypatch, capfd):
    spec = importlib.util.spec_from_file_location("run_all", Path(__file__).parents[2] / "bench" / "run_all.py")
    run_all = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_all)
    monkeypatch.setenv("RESTO_HOME", str(tmp_path))  # the subprocess finds no demo model
    assert run_all.SKIPPED == decision_fit.SKIPPED
    assert run_all.main(["decision_fit"]) == 0
    out = capfd.readouterr().out
    assert "--- decision_fit: skipped" in out and "skipped (a prerequisite is missing" in out
