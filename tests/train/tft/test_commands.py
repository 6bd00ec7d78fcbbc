"""`resto train tft`: argument handling and user errors (exit 2, one clear line)."""

from __future__ import annotations

from cli.main import main
from tests.train.tft.scripted_llms import write_config


def test_user_errors_exit_2(tmp_path, capsys, traces_file, job_file):
    assert main(["train", "tft", str(tmp_path / "missing.yaml")]) == 2
    assert "config file" in capsys.readouterr().err
    config = write_config(tmp_path / "config.yaml", "http://127.0.0.1:9/v1", traces_file, job_file)
    assert main(["train", "tft", str(config), "--stages", "filter,bogus"]) == 2
    assert "unknown stage(s) bogus" in capsys.readouterr().err
    assert main(["train", "tft", str(config), "--run-dir", str(tmp_path / "nope"), "--resume"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["train", "tft", str(config), "--run-dir", str(tmp_path / "r"), "--stages", "relabel"]) == 2
    assert "needs the output of filter" in capsys.readouterr().err


def test_only_filter_stage_with_traces_override(tmp_path, capsys, llms, traces_file, job_file):
    config = write_config(tmp_path / "config.yaml", llms.base_url, tmp_path / "elsewhere.jsonl", job_file)
    run_dir = tmp_path / "run"
    assert main(["train", "tft", str(config), "--run-dir", str(run_dir), "--stages", "filter",
                 "--traces", str(traces_file)]) == 0
    out = capsys.readouterr().out
    assert "[filter] kept 3, dropped 1" in out and f"run directory: {run_dir}" in out
    report = (run_dir / "report.md").read_text()
    assert "| filter | 4 | 3 | 1 | low-relevance 1 |" in report and "| relabel | not run |" in report
