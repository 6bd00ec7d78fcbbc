"""Filter stage against a scripted judge on 127.0.0.1 (standing in for gpt-oss-120b)."""

from __future__ import annotations

from tests.train.tft.scripted_llms import write_config
from train.tft.config import load_config
from train.tft.context import Job, StageContext
from train.tft.filter import parse_scores, run_filter
from train.tft.pipeline import load_inputs
from train.tft.prompts import ReplyError
from train.tft.stage_io import StageRun, read_items


def _ctx(tmp_path, server, traces, job, **kw):
    cfg = load_config(write_config(tmp_path / "config.yaml", server.base_url, traces, job, **kw))
    return StageContext(cfg, tmp_path / "run", Job.load(cfg.job_path))


def _run(ctx, resume=False):
    inputs, _ = load_inputs(ctx.config)
    out = StageRun(ctx.run_dir, "filter", resume=resume)
    out.attach(ctx.clients)
    extra = run_filter(ctx, inputs, out)
    stats = out.finish(extra=extra)
    ctx.close()
    return stats, {i.id: i for i in read_items(out.items_path)}


def test_off_domain_trace_dropped_with_scores_and_reason(tmp_path, llms, traces_file, job_file):
    stats, items = _run(_ctx(tmp_path, llms, traces_file, job_file))
    assert stats["kept"] == 3 and stats["dropped_by_reason"] == {"low-relevance": 1}
    hotel = items["t00004"]
    assert not hotel.keep and hotel.reason.startswith("low-relevance: 1 < 3")
    assert hotel.meta["relevance"] == 1 and hotel.messages  # kept in the output, with the conversation
    assert all(items[i].keep and items[i].meta["coherence"] == 4 for i in ("t00001", "t00002", "t00003"))
    assert stats["llm_requests"] == 4 and stats["cache_hits"] == 0


def test_rerun_is_served_from_cache(tmp_path, llms, traces_file, job_file):
    _run(_ctx(tmp_path, llms, traces_file, job_file))
    stats, _ = _run(_ctx(tmp_path, llms, traces_file, job_file))  # afresh, same run dir → same cache
    assert stats["llm_requests"] == 0 and stats["cache_hits"] == 4 and len(llms.requests) == 4


def test_malformed_judge_is_recorded_not_fatal(tmp_path, llms, traces_file, job_file):
    ctx = _ctx(tmp_path, llms, traces_file, job_file, committee=("broken",))
    ctx.config.evaluation.llm_as_a_judge_model_name = "broken"  # answers truncated JSON
    stats, items = _run(ctx)
    assert stats["kept"] == 0 and stats["dropped_by_reason"] == {"judge-malformed": 4}


def test_unreachable_judge_is_retried_on_resume(tmp_path, llms, traces_file, job_file):
    ctx = _ctx(tmp_path, llms, traces_file, job_file, committee=("slow",))
    ctx.config.evaluation.llm_as_a_judge_model_name = "slow"  # times out
    stats, items = _run(ctx)
    assert stats["dropped_by_reason"] == {"llm-error": 4} and "timed out" in items["t00001"].reason
    ctx = _ctx(tmp_path, llms, traces_file, job_file)  # judge reachable again
    stats, items = _run(ctx, resume=True)
    assert stats["kept"] == 3 and stats["this_run"]["llm_requests"] == 4
    assert stats["llm_requests"] == 8 and stats["failures"] == 4  # both invocations count


def test_score_parsing():
    assert parse_scores('```json\n{"relevance": "4", "coherence": 5}\n```')[:2] == (4, 5)
    for bad in ('{"relevance": 9, "coherence": 1}', '{"coherence": 2}', "fine"):
        try:
            parse_scores(bad)
        except ReplyError:
            continue
        raise AssertionError(bad)
