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


def test_fit_scores_every_turn_of_a_tiny_model(tiny_model_dir):
    small_traces = [Trace(conversation("Oakland", "Thai", "Thai Basil")), Trace(conversation("Dixon", "Pizza", "Alpha"))]
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    acc, loss, turns, share = decision_fit.fit(model, tok, small_traces[:2])
    assert turns == 8  # four assistant calls per conversation
    assert 0.0 <= acc <= 1.0 and loss > 1.0  # an untrained model: high loss
    assert 0.0 < share < 1.0
