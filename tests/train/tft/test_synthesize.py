"""Synthesize stage: a scripted teacher on 127.0.0.1 (standing in for GLM-5) writes conversations,
some malformed or ungrounded; generation runs until the target of valid ones and resumes without
redoing finished calls."""

from __future__ import annotations

import re

import pytest

from tests.train.tft.scripted_llms import GOLD, write_config
from train.tft.config import load_config
from train.tft.context import Job, StageContext
from train.tft.prompts import ReplyError
from train.tft.stage_io import Item, StageRun, read_items
from train.tft.synthesize import plan_call, run_synthesize, to_messages

SEEDS = [Item(f"t{n}", m) for n, m in enumerate(GOLD.values(), start=1)]


def _synth(tmp_path, server, traces, job, target, resume=False):
    cfg = load_config(write_config(tmp_path / "config.yaml", server.base_url, traces, job, target=target))
    ctx = StageContext(cfg, tmp_path / "run", Job.load(cfg.job_path))
    out = StageRun(ctx.run_dir, "synthesize", resume=resume)
    out.attach(ctx.clients)
    extra = run_synthesize(ctx, SEEDS, SEEDS[:1], out)
    stats = out.finish(extra=extra)
    ctx.close()
    return stats, {i.id: i for i in read_items(out.items_path)}


def _requested(server):
    return [int(re.search(r"request #(\d+)", r["messages"][-1]["content"]).group(1)) for r in server.requests]


def test_generates_until_target_and_records_drops(tmp_path, llms, traces_file, job_file):
    stats, items = _synth(tmp_path, llms, traces_file, job_file, target=4)
    assert stats["valid"] == 4 and stats["reached_target"]
    assert items["s00001-x"].reason.startswith("malformed: no JSON object")
    assert items["s00003-0"].reason.startswith("invalid: ungrounded: ReserveRestaurant.restaurant_name='Ghost Diner'")
    kept = [i for i in items.values() if i.keep]
    assert len(kept) == 4 and kept[0].messages[0] == {"role": "user", "content": kept[0].messages[0]["content"]}
    assert kept[0].meta["topic"] in ("short conversation", "long conversation") and kept[0].meta["seeds"]
    assert sorted(_requested(llms)) == list(range(6))  # 2 per batch (max_concurrency) until 4 valid


def test_resume_skips_finished_calls(tmp_path, llms, traces_file, job_file):
    first, _ = _synth(tmp_path, llms, traces_file, job_file, target=2)
    # call 1 is malformed: [0, 1] gives one valid conversation, then [2] (only one more needed)
    assert first["valid"] == 2 and sorted(_requested(llms)) == [0, 1, 2]
    (tmp_path / "run" / "cache").rename(tmp_path / "old-cache")  # no cache: only items.jsonl prevents redoing
    second, items = _synth(tmp_path, llms, traces_file, job_file, target=4, resume=True)
    assert second["valid"] == 4 and second["resumed_items"] == 3
    assert sorted(_requested(llms)) == [0, 1, 2, 3, 4, 5]  # every call asked exactly once
    assert second["this_run"]["llm_requests"] == 3 and second["cache_hits"] == 0
    assert second["llm_requests"] == 6  # both invocations


def test_prompt_is_deterministic_per_call(tmp_path, llms, traces_file, job_file):
    cfg = load_config(write_config(tmp_path / "config.yaml", llms.base_url, traces_file, job_file))
    ctx = StageContext(cfg, tmp_path / "run", Job.load(cfg.job_path))
    assert plan_call(ctx, 7, SEEDS, SEEDS) == plan_call(ctx, 7, SEEDS, SEEDS)
    assert plan_call(ctx, 7, SEEDS, SEEDS)[0] != plan_call(ctx, 8, SEEDS, SEEDS)[0]


def test_teacher_format_conversion():
    messages = to_messages({"messages": [
        {"role": "user", "content": "Thai in San Jose"},
        {"role": "assistant", "name": "FindRestaurants", "arguments": '{"city": "San Jose", "cuisine": "Thai"}'},
        {"role": "tool_result", "results": {"restaurant_name": "Thai Orchid"}},
        {"role": "assistant", "tool_calls": [{"function": {"name": "respond_to_user",
                                                            "arguments": {"message": "Thai Orchid"}}}]},
    ]})
    assert messages[2] == {"role": "user", "content": '[{"restaurant_name": "Thai Orchid"}]'}
    assert messages[1]["tool_calls"][0]["function"]["arguments"] == {"city": "San Jose", "cuisine": "Thai"}
    for bad in ([], {"messages": [{"role": "assistant"}]}, {"messages": [{"role": "tool_result", "results": "x"}]}):
        with pytest.raises(ReplyError):
            to_messages(bad)


def test_prompt_shows_real_restaurants_from_the_database(tmp_path, llms, traces_file, job_file, db_url):
    from train.tft.validate import db_executor

    cfg = load_config(write_config(tmp_path / "config.yaml", llms.base_url, traces_file, job_file))
    ctx = StageContext(cfg, tmp_path / "run", Job.load(cfg.job_path))
    prompt = plan_call(ctx, 0, SEEDS, [], db_executor(db_url, tmp_path))[0][-1]["content"]
    catalog = prompt.split("# Restaurants in the database\n", 1)[1].split("\n\n")[0]
    assert "Mimi's Cafe" in catalog and "Thai Orchid" in catalog  # both seed searches, executed for real
