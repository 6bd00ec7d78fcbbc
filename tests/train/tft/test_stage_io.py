"""Stage output: append-only items, torn lines from a killed run, resume, statistics."""

from __future__ import annotations

import json

from train.tft.stage_io import Item, StageRun, load_stats, read_items


def test_items_survive_a_torn_tail_and_resume(tmp_path):
    run = StageRun(tmp_path, "filter", resume=False)
    run.write(Item("a", [{"role": "user", "content": "hi"}]))
    run.write(Item("b", [], keep=False, reason="low-relevance: 1 < 3"))
    run.write(Item("c", [], keep=False, reason="llm-error: judge: timed out"))
    run.close()
    with (tmp_path / "filter" / "items.jsonl").open("a") as fh:
        fh.write('{"id": "d", "keep": tr')  # killed mid-write
    assert [i.id for i in read_items(tmp_path / "filter" / "items.jsonl")] == ["a", "b", "c"]
    again = StageRun(tmp_path, "filter", resume=True)
    assert set(again.done) == {"a", "b"}  # failed LLM calls are asked again
    again.write(Item("c", [], keep=True, reason="ok"))
    stats = again.finish(extra={"judge": "j"})
    assert stats["kept"] == 2 and stats["dropped_by_reason"] == {"low-relevance": 1}
    assert stats["resumed_items"] == 2 and stats["judge"] == "j"
    assert load_stats(tmp_path, "filter") == json.loads((tmp_path / "filter" / "stats.json").read_text())


def test_not_resuming_starts_afresh(tmp_path):
    run = StageRun(tmp_path, "validate", resume=False)
    run.write(Item("a", []))
    run.finish()
    fresh = StageRun(tmp_path, "validate", resume=False)
    assert fresh.done == {} and not fresh.complete
    fresh.close()
