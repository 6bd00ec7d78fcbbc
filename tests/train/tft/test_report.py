"""report.md is rebuilt from the stage folders alone."""

from __future__ import annotations

from train.tft.report import write_report
from train.tft.stage_io import Item, StageRun


def test_report_from_stage_outputs(tmp_path):
    run = StageRun(tmp_path, "filter", resume=False)
    run.write(Item("t1", [], keep=False, reason="low-coherence: 1 < 2 (rambling)"))
    run.write(Item("t2", []))
    run.finish(extra={"judge": "j"})
    run = StageRun(tmp_path, "finetune", resume=False)
    run.finish(extra={"model_dir": "m", "train_seeds": 1, "train_synthetic": 0,
                      "eval_skipped": "no test file (set tft.eval.test)"})
    text = write_report(tmp_path).read_text()
    assert "| filter | 2 | 1 | 1 | low-coherence 1 | 0 | 0 | 0 | 0 |" in text
    assert "| synthesize | not run |" in text
    assert "- `t1`: low-coherence: 1 < 2 (rambling)" in text
    assert "trained on 1 seeds + 0 synthetic" in text and "Evaluation not run: no test file" in text
