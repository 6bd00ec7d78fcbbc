"""The demo model command (a real run, 20 to 35 minutes, is not a test; these check its parts)."""

import json
import time
from pathlib import Path

import pytest

from train.demo import time_budget_callback


def test_time_budget_schedule_decays_to_zero_and_stops():
    cb = time_budget_callback(seconds=0.2, peak_lr=1e-3, warmup_steps=2)
    cb.start = time.time()
    assert cb._lr(0) == pytest.approx(5e-4, rel=0.05)  # warm-up
    assert cb._lr(5) == pytest.approx(1e-3, rel=0.05)
    time.sleep(0.1)
    assert 0.2e-3 < cb._lr(5) < 0.8e-3  # half-way through the cosine

    class Control:
        should_training_stop = False

    class State:
        global_step = 5

    control = Control()
    cb.on_step_end(None, State(), control)
    assert not control.should_training_stop
    time.sleep(0.12)
    assert cb._lr(5) == pytest.approx(0.0, abs=1e-12)
    cb.on_step_end(None, State(), control)
    assert control.should_training_stop


def test_epochs_are_the_default_budget_and_become_a_step_count():
    from train.demo import DEFAULT_EPOCHS, DemoConfig, epoch_steps

    config = DemoConfig()
    assert (config.epochs, config.minutes, config.max_steps) == (DEFAULT_EPOCHS, None, None)
    assert epoch_steps(8.5, 327, 2) == 1390  # the default on the 327 S1 conversations
    assert epoch_steps(1.0, 3, 2) == 2 and epoch_steps(0.01, 3, 2) == 1  # part of a step is a step


def test_an_epoch_budget_trains_that_many_passes_with_a_cosine_by_steps(
    tiny_model_dir, small_traces, tmp_path, monkeypatch, capsys
):
    import shutil

    import train.demo as demo
    from agent.settings import Settings

    # eight small conversations stand in for the 327 S1 ones: the budget logic is what is tested
    monkeypatch.setattr(demo, "s1_traces", lambda sgd_dir: list(small_traces) * 2)
    shutil.copytree(tiny_model_dir, tmp_path / "run" / "base")
    config = demo.DemoConfig(epochs=1.5, ema_decay=None, bf16=False, warmup_steps=0)
    _, metrics = demo.train_one(Settings(data_dir=tmp_path), config, tmp_path / "run")
    assert metrics["global_step"] == 6 and metrics["epoch"] == pytest.approx(1.5)  # ceil(1.5 * 8 / 2)
    out = capsys.readouterr().out
    assert "conversations/s (fp32)" in out and "training for 1.5 epochs (6 steps, ~" in out
    logged = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    rates = [row["learning_rate"] for row in logged if "learning_rate" in row]
    assert rates and rates[-1] < 0.5 * config.lr  # decaying by steps without warm-up (a time budget: near the peak)


@pytest.mark.slow
def test_model_demo_command_writes_a_loadable_model(data_dir, tmp_path):
    import os

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from cli.main import main

    out = tmp_path / "demo"
    args = ["model", "demo", "--steps", "2", "--ema", "0.9", "--state-weight", "1", "--dropout", "0.1",
            "--members", "1", "--out", str(out)]
    assert main(["--data-dir", str(data_dir), *args]) == 0
    tok = AutoTokenizer.from_pretrained(out)
    shipped = AutoModelForCausalLM.from_pretrained(out).state_dict()
    assert json.loads((out / "demo.json").read_text())["decoding"] == "grounded"  # the chat's default for it
    # --state-weight: every S1 conversation carried SGD's annotations; the tag rows ship with the model
    run = Path(os.environ["RESTO_HOME"]) / "runs" / "demo"
    assert json.loads((run / "data.json").read_text())["slot_state_conversations"] == 327
    assert "<|tag:city|>" in tok.get_vocab() and shipped["model.embed_tokens.weight"].shape[0] == len(tok)
    assert json.loads((run / "config.json").read_text())["dropout"] == 0.1  # --dropout reached the run
    # with --ema the demo model is the average; the run keeps the last weights in final/
    ema = AutoModelForCausalLM.from_pretrained(run / "ema").state_dict()
    last = AutoModelForCausalLM.from_pretrained(run / "final").state_dict()
    assert all(torch.equal(shipped[k], ema[k]) for k in shipped)
    assert not all(torch.equal(shipped[k], last[k]) for k in shipped)


def test_calibration_samples_the_length_distribution_and_tokenizes_only_that(tiny_model_dir, small_traces):
    import random

    from transformers import AutoTokenizer

    from agent.trace_io import Trace
    from train.dataset import build_examples
    from train.demo import calibration_examples
    from train.finetune import default_tools

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    base = small_traces[0].messages
    # sixteen conversations of growing length (the first user turn repeated n times), shuffled
    by_length = [Trace([base[0]] * n + base[1:]) for n in range(1, 17)]
    shuffled = random.Random(0).sample(by_length, len(by_length))
    examples = calibration_examples(tok, shuffled, batch_size=2, batches=2)
    # the warm-up batch around the median (8 of 16), then pairs around the 1/4 and 3/4 points (4 and 12)
    expected = by_length[7:9] + by_length[3:5] + by_length[11:13]
    reference, _ = build_examples(tok, expected, default_tools())
    assert [ex.input_ids for ex in examples] == [ex.input_ids for ex in reference]
    assert len(calibration_examples(tok, by_length[:5], batch_size=2, batches=2)) == 5  # fewer: all of them


def test_calibration_times_every_batch_after_the_warm_up(tiny_model_dir, small_traces, monkeypatch):
    """The rate counts the timed batches' conversations only; with nothing after the warm-up, the warm-up's."""
    from transformers import AutoTokenizer

    import train.demo as demo

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples = demo.calibration_examples(tok, small_traces * 3, batch_size=2, batches=2)
    ticks = iter(range(1000))
    clock = type("Clock", (), {"time": staticmethod(lambda: float(next(ticks)))})
    monkeypatch.setattr(demo, "time", clock)  # demo's own clock only: each batch "takes" one second
    assert demo.calibrate_conversations_per_second(tiny_model_dir, examples, batch_size=2, batches=2) == 2.0
    assert demo.calibrate_conversations_per_second(tiny_model_dir, examples[:1], batch_size=2, batches=2) == 1.0


def test_calibration_times_shared_prefix_batches(tiny_model_dir, small_traces):
    from transformers import AutoTokenizer

    from train.demo import calibrate_conversations_per_second, calibration_examples

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples = calibration_examples(tok, small_traces * 2, batch_size=2, batches=2)
    rate = calibrate_conversations_per_second(tiny_model_dir, examples, batch_size=2, batches=2)
    assert 0 < rate < 10_000


@pytest.mark.parametrize(
    "flags",
    [["--batch-size", "0"], ["--lr", "-1"], ["--augment", "-2"], ["--layers", "0"], ["--decision-weight", "0"],
     ["--context-weight", "-1"], ["--ema", "1"], ["--weight-decay", "-0.1"], ["--vocab", "100"],
     ["--context-noise", "1"], ["--context-noise", "0.1", "--context-weight", "0.5"], ["--state-weight", "-1"],
     ["--dropout", "1"], ["--dropout", "-0.1"], ["--epochs", "3"], ["--minutes", "20"]],  # each besides --steps
)
def test_bad_demo_flags_are_one_clear_error(flags, capsys, tmp_path):
    from cli.main import main

    assert main(["model", "demo", "--steps", "1", "--out", str(tmp_path / "x"), *flags]) == 2
    err = capsys.readouterr().err
    assert "resto model demo:" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("flags", [["--epochs", "0"], ["--minutes", "-5"], ["--steps", "0"]])
def test_a_budget_must_be_positive(flags, capsys, tmp_path):
    from cli.main import main

    assert main(["model", "demo", "--out", str(tmp_path / "x"), *flags]) == 2
    assert "resto model demo:" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_precision_is_chosen_by_timing_both_unless_forced(monkeypatch, capsys):
    import train.demo as demo

    rates = {False: 2.0, True: 3.0}
    calls = []

    def fake(model_dir, examples, batch_size, batches=2, bf16=False):
        calls.append(bf16)
        return rates[bf16]

    monkeypatch.setattr(demo, "calibrate_conversations_per_second", fake)
    assert demo.choose_precision("m", [], 2, "auto") == (True, 3.0)
    assert calls == [False, True] and "fp32 2.00, bf16 autocast 3.00" in capsys.readouterr().out
    rates[True] = 2.1  # under BF16_MIN_GAIN: not worth the lower precision
    assert demo.choose_precision("m", [], 2, "auto") == (False, 2.0)
    calls.clear()
    assert demo.choose_precision("m", [], 2, False) == (False, 2.0) and calls == [False]
    assert demo.choose_precision("m", [], 2, True) == (True, 2.1) and calls == [False, True]


def test_calibration_runs_under_bf16_autocast(tiny_model_dir, small_traces):
    from transformers import AutoTokenizer

    from train.demo import calibrate_conversations_per_second, calibration_examples

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples = calibration_examples(tok, small_traces * 2, batch_size=2, batches=1)
    assert 0 < calibrate_conversations_per_second(tiny_model_dir, examples, batch_size=2, batches=1, bf16=True)


def test_demo_flags_reach_the_config(monkeypatch, tmp_path):
    import train.demo as demo
    from agent.tiny import TinyConfig
    from cli.main import main

    seen = {}

    def fake(settings, out_dir, config):
        seen["config"] = config
        return demo.FinetuneResult(tmp_path, tmp_path, {})

    monkeypatch.setattr(demo, "train_demo", fake)
    args = ["model", "demo", "--sgd-segments", "--restaurants-2", "--seed", "3", "--decision-weight", "5", "--bf16", "off",
            "--context-weight", "0.5", "--ema", "0.998", "--weight-decay", "0.1", "--tokenizer", "lines", "--members", "2"]
    assert main(args) == 0
    config = seen["config"]
    assert config.sgd_segments and config.restaurants_2 and config.seed == 3 and config.tiny.seed == 3
    assert config.decision_weight == 5.0 and config.bf16 is False
    assert (config.context_weight, config.ema_decay, config.weight_decay) == (0.5, 0.998, 0.1)
    assert config.tiny.pre_tokenizer == "lines" and config.members == 2
    assert main(["model", "demo", "--context-noise", "0.15", "--state-weight", "2", "--dropout", "0.1"]) == 0
    assert seen["config"].context_noise == 0.15 and seen["config"].state_weight == 2.0
    assert seen["config"].dropout == 0.1
    assert main(["model", "demo"]) == 0
    config = seen["config"]
    assert not config.sgd_segments and not config.restaurants_2 and config.bf16 == "auto" and config.decision_weight == 1.0
    assert (config.context_weight, config.ema_decay, config.weight_decay, config.members) == (0.0, 0.998, 0.01, 2)
    # the default: two 1.7M members, smaller than agent.tiny's own default (docs/demo-model.md)
    assert (config.tiny.layers, config.tiny.hidden) == (3, 192) != (TinyConfig().layers, TinyConfig().hidden)
    assert config.state_weight == 0.0 and config.dropout == 0.0
    assert main(["model", "demo", "--ema", "0"]) == 0
    assert seen["config"].ema_decay is None  # the last weights
    assert main(["model", "demo", "--epochs", "3"]) == 0 and (seen["config"].epochs, seen["config"].minutes) == (3.0, None)
    assert main(["model", "demo", "--minutes", "20"]) == 0 and seen["config"].minutes == 20.0
    assert main(["model", "demo", "--steps", "7"]) == 0 and seen["config"].max_steps == 7
    default_tiny = demo.DemoConfig().tiny
    assert main(["model", "demo", "--layers", "6"]) == 0  # one size flag keeps the demo's other defaults
    assert seen["config"].tiny == default_tiny.model_copy(update={"layers": 6})
    assert main(["model", "demo", "--tokenizer", "words", "--vocab", "4096", "--hidden", "128"]) == 0
    tiny = seen["config"].tiny
    assert (tiny.pre_tokenizer, tiny.vocab_size, tiny.hidden, tiny.layers) == ("words", 4096, 128, default_tiny.layers)
    assert main(["model", "demo", "--members", "1", "--layers", "4", "--hidden", "256"]) == 0  # the former default
    assert seen["config"].members == 1 and seen["config"].tiny == TinyConfig()


def test_extra_sgd_traces_come_only_from_the_flags(data_dir, tmp_path, capsys):
    from train.demo import DemoConfig, extra_sgd_traces

    assert extra_sgd_traces(DemoConfig(), tmp_path / "no-sgd-here") == []  # nothing is read by default
    extra = extra_sgd_traces(DemoConfig(restaurants_2=True), data_dir / "sgd")
    assert len(extra) == 129 and {t.meta["source"] for t in extra} == {"Restaurants_2"}
    assert "adding 129 Restaurants_2 dialogues" in capsys.readouterr().out


def test_a_run_directory_is_resumed_only_by_the_same_settings(tmp_path, capsys):
    from train.demo import RUN_RECORD, DemoConfig, claim_run_dir

    run = tmp_path / "runs" / "demo"
    claim_run_dir(run, DemoConfig())  # fresh: the record is written
    (run / "checkpoints").mkdir()
    claim_run_dir(run, DemoConfig())  # the same command again: resumed, nothing moved
    assert (run / "checkpoints").is_dir() and not (tmp_path / "runs" / "demo.previous-1").exists()
    claim_run_dir(run, DemoConfig(seed=1))  # another seed: the old run is kept aside, whole
    assert (tmp_path / "runs" / "demo.previous-1" / "checkpoints").is_dir() and not (run / "checkpoints").exists()
    assert json.loads((run / RUN_RECORD).read_text())["seed"] == 1
    assert "moved it to" in capsys.readouterr().out
    # a run from before the record (the former 4 x 256 default, say) is not known to match
    (run / RUN_RECORD).unlink()
    (run / "base").mkdir()
    claim_run_dir(run, DemoConfig(seed=1))
    assert (tmp_path / "runs" / "demo.previous-2" / "base").is_dir() and not (run / "base").exists()
