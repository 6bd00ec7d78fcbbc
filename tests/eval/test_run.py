"""`resto eval run` end to end on a tiny local Qwen3 (tests/conftest.py `tiny_model_dir`), plus the
batched generator's equivalence with one-at-a-time generation."""

import json

import pytest
import torch

from cli.main import main
from eval.expand import expand_file
from eval.predict import HFPredictor, load_hf_model, predict_rows

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def test_file(benchmark_dir):
    return benchmark_dir / "scenario-1-baseline" / "tft" / "test.jsonl"


@pytest.fixture(scope="module")
def noisy_model(tiny_model_dir):
    """The tiny model with larger random weights, so greedy outputs vary from token to token
    (the stock init repeats one token, which would make the batching check vacuous)."""
    model, tok = load_hf_model(str(tiny_model_dir), device="cpu")
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" not in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.3)
    return model, tok


def test_batched_generation_equals_one_at_a_time(noisy_model, test_file):
    model, tok = noisy_model
    rows = expand_file(test_file).rows[:24:4]
    predictor = HFPredictor(model, tok, batch_size=6, max_new_tokens=8)
    prompts = predictor.prompts([json.loads(r.question) for r in rows])
    assert len({len(p) for p in prompts}) > 1  # different lengths → real left padding
    batched = predictor.generate_ids(prompts)
    single = [predictor.generate_ids([p])[0] for p in prompts]
    assert batched == single
    assert len({tuple(x) for x in batched}) > 1


class CountingPredictor:
    description = "counting"

    def __init__(self):
        self.seen = 0

    def predict(self, conversations):
        self.seen += len(conversations)
        return ['{"name": "respond_to_user", "arguments": {"message": "Have a great day."}}'] * len(
            conversations
        )


def test_predict_rows_resumes_and_survives_a_torn_line(tmp_path, test_file):
    rows = [r.to_record() for r in expand_file(test_file).rows[:5]]
    out = tmp_path / "predictions.jsonl"
    first = CountingPredictor()
    predict_rows(rows[:3], first, out)
    with out.open("a") as fh:
        fh.write('{"key": "torn')  # a run killed mid-write
    second = CountingPredictor()
    done, stats = predict_rows(rows, second, out)
    assert second.seen == 2 and stats.skipped == 3 and stats.predicted == 2
    assert [d["question"] for d in done] == [r["question"] for r in rows]


def test_eval_run_end_to_end_with_tiny_model(tiny_model_dir, test_file, tmp_path, capsys):
    out = tmp_path / "run"
    argv = [
        "eval",
        "run",
        "--model",
        str(tiny_model_dir),
        "--device",
        "cpu",
        "--test",
        str(test_file),
        "--out",
        str(out),
        "--limit",
        "5",
        "--batch-size",
        "3",
        "--max-new-tokens",
        "6",
        "--pipeline",
        "base",
        "--label",
        "tiny",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "staged_tool_call:" in printed and "function-name accuracy" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["n"] == 5 and report["meta"]["scenario"] == "S1"
    assert set(report["metrics"]) == {
        "staged_tool_call",
        "tool_call_equivalence",
        "binary_tool_call",
        "rouge",
    }
    md = (out / "report.md").read_text()
    for heading in ("## Metrics", "## Per function", "confusion", "## Worst"):
        assert heading in md
    assert (out / "metrics.png").read_bytes()[:4] == b"\x89PNG"
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 5

    # re-run with a larger limit: the 5 finished rows are not generated again
    argv[argv.index("5")] = "7"
    assert main(argv) == 0
    assert "2 new, 5 already done" in capsys.readouterr().out

    # compare places the run in the benchmark's table beside the published numbers
    assert main(["eval", "compare", str(out)]) == 0
    table = capsys.readouterr().out
    assert "0.866" in table and "S1 baseline" in table and "base (ours)" in table


def test_eval_run_against_an_endpoint(test_file, tmp_path, capsys):
    """The model under test is tests/support/scripted_server.py on 127.0.0.1 (standing in for a served
    model): it answers every row with the reference call as an OpenAI tool call."""
    from tests.support.scripted_server import ScriptedServer, completion

    references = {r.question: json.loads(r.answer) for r in expand_file(test_file).rows[:4]}

    def handler(body):
        from agent.conversation import normalize_messages

        # on the wire arguments are JSON strings; the rows hold them as objects
        history = json.dumps(normalize_messages([m for m in body["messages"] if m["role"] != "system"]))
        ref = references.get(history)
        assert body["tools"][0]["function"]["name"] == "respond_to_user"
        if ref is None:
            return completion("no idea")
        return completion(tool_calls=[{"name": ref["name"], "arguments": ref["parameters"]}])

    out = tmp_path / "endpoint-run"
    with ScriptedServer(handler) as server:
        code = main(
            [
                "eval",
                "run",
                "--endpoint",
                server.base_url,
                "--endpoint-model",
                "served",
                "--test",
                str(test_file),
                "--out",
                str(out),
                "--limit",
                "4",
            ]
        )
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["metrics"]["binary_tool_call"] == 1.0 and report["function_accuracy"] == 1.0
    first = json.loads((out / "predictions.jsonl").read_text().splitlines()[0])
    assert first["prediction"].startswith("<tool_call>")


def test_local_hf_judge_runs_and_counts_unparseable(tiny_model_dir, tmp_path):
    """A local hf judge (here the tiny random model, so its verdicts are unreadable by design)."""
    from eval.judge import JudgeItem, make_judge

    judge = make_judge(model=str(tiny_model_dir), rubric="Be fair.", cache_dir=tmp_path / "v")
    verdicts = judge.judge_many([JudgeItem("[]", '{"name": "a", "parameters": {}}', "x")])
    assert len(verdicts) == 1 and verdicts[0].error is None
    assert verdicts[0].score in (None, 0.0, 1.0)
    again = judge.judge_many([JudgeItem("[]", '{"name": "a", "parameters": {}}', "x")])
    assert again[0].cached


class FlakyPredictor:
    description = "flaky"

    def __init__(self, fail: bool):
        self.fail = fail

    def predict(self, conversations):
        return [None if self.fail and i == 0 else "x" for i in range(len(conversations))]


def test_failed_predictions_are_not_saved_and_retried(tmp_path, test_file):
    rows = [r.to_record() for r in expand_file(test_file).rows[:3]]
    out = tmp_path / "p.jsonl"
    done, stats = predict_rows(rows, FlakyPredictor(True), out)
    assert stats.failed == 1 and done[0]["prediction"] == "" and done[0]["failed"]
    assert len(out.read_text().splitlines()) == 2
    done, stats = predict_rows(rows, FlakyPredictor(False), out)
    assert stats.predicted == 1 and stats.skipped == 2 and all(d["prediction"] == "x" for d in done)
