"""`resto train direct` end to end on a tiny configuration (LoRA on the tiny model, eval report)."""

import json

import yaml

from agent.trace_io import write_traces
from cli.main import main


def test_train_direct_end_to_end(tiny_model_dir, small_traces, tmp_path, capsys):
    write_traces(tmp_path / "traces.jsonl", small_traces[:2])
    write_traces(tmp_path / "test.jsonl", small_traces[2:3], fmt="messages")
    config = {
        # the benchmark's keys are accepted as they are
        "base": {"student_model_name": "Qwen3-1.7B", "task": "multi-turn-tool-calling-closed-book"},
        "evaluation": {"llm_as_a_judge_model_name": "openai.gpt-oss-120b"},
        "synthgen": {"parallel_llm_calls": True},
        "traces": "traces.jsonl",
        "test": "test.jsonl",
        "eval_limit": 2,
        "run_dir": "run",
        "finetune": {"model": str(tiny_model_dir), "method": "lora", "max_steps": 2, "grad_accumulation": 1,
                     "lr": 1e-3, "save_steps": 1, "logging_steps": 1, "progress": False},
    }
    (tmp_path / "direct.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "direct", str(tmp_path / "direct.yaml")]) == 0
    run = tmp_path / "run"
    resolved = yaml.safe_load((run / "direct.yaml").read_text())
    assert resolved["base"]["student_model_name"] == "Qwen3-1.7B"
    assert resolved["finetune"]["model"] == str(tiny_model_dir)  # an explicit model wins over base
    assert (run / "merged" / "config.json").exists()
    assert json.loads((run / "metrics.json").read_text())["global_step"] == 2
    assert len((run / "eval" / "predictions.jsonl").read_text().splitlines()) == 2
    assert (run / "eval" / "report.md").exists()

    # the same run directory with another learning rate: refused, with the difference, and the old
    # run's records stay as they were
    kept = (run / "direct.yaml").read_text()
    config["finetune"]["lr"] = 5e-3
    (tmp_path / "direct.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "direct", str(tmp_path / "direct.yaml")]) == 2
    err = capsys.readouterr().err
    assert "of a different run" in err and "lr: 0.001 → 0.005" in err
    assert (run / "direct.yaml").read_text() == kept


def test_bad_config_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("traces: t.jsonl\nscenario: {name: s1}\n")
    assert main(["train", "direct", str(tmp_path / "bad.yaml")]) == 2
    assert "exactly one of" in capsys.readouterr().err
    (tmp_path / "typo.yaml").write_text("traces: t.jsonl\nfinetune: {learning_rate: 1}\n")
    assert main(["train", "direct", str(tmp_path / "typo.yaml")]) == 2
    assert "learning_rate" in capsys.readouterr().err
