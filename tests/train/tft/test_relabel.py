"""Relabel stage: a committee on a scripted server at 127.0.0.1 (standing in for gpt-oss-120b and
GLM-5): one member correct, one that times out, one that answers malformed JSON, one that
disagrees; the scripted teacher arbitrates."""

from __future__ import annotations

from agent.conversation import tool_calls
from tests.train.tft.scripted_llms import GOLD, HOLD_KEYS, corrupted, write_config
from train.tft.config import load_config
from train.tft.context import Job, StageContext
from train.tft.relabel import run_relabel
from train.tft.stage_io import Item, StageRun, read_items


def _relabel(tmp_path, server, traces, job, committee):
    cfg = load_config(write_config(tmp_path / "config.yaml", server.base_url, traces, job, committee=committee))
    ctx = StageContext(cfg, tmp_path / "run", Job.load(cfg.job_path))
    inputs = [Item(f"t{n}", m) for n, m in enumerate(corrupted()[:3], start=1)]
    out = StageRun(ctx.run_dir, "relabel", resume=False)
    out.attach(ctx.clients)
    extra = run_relabel(ctx, inputs, out)
    stats = out.finish(extra=extra)
    ctx.close()
    return stats, {i.id: i for i in read_items(out.items_path)}


def _calls(messages):
    return [(c.name, c.arguments) for c in tool_calls(messages)]


def test_committee_with_timeout_malformed_and_disagreement(tmp_path, llms, traces_file, job_file):
    stats, items = _relabel(tmp_path, llms, traces_file, job_file, ("good", "slow", "broken", "contrarian"))
    assert stats["kept"] == 3 and stats["dropped"] == 0
    gold = [GOLD[k] for k in HOLD_KEYS]
    for n, expected in enumerate(gold, start=1):
        item = items[f"t{n}"]
        assert _calls(item.messages) == _calls(expected)  # corrupted labels fixed
        notes = item.meta["committee"]
        assert "llm-error" in notes["slow"] and "timed out" in notes["slow"]
        assert notes["broken"].startswith("broken: malformed")
        assert notes["good"] == "good: valid"
    # the contrarian dropped price_range: a real disagreement the teacher settled for `good`
    assert items["t2"].reason.startswith("arbitrated: teacher chose good")
    # no price_range in the other traces: both valid candidates agree, the teacher is not asked
    assert items["t1"].reason == "agreed: good, contrarian"
    assert stats["arbitrations"] == 1
    teacher_requests = [r for r in llms.requests if r["model"] == "teacher"]
    assert len(teacher_requests) == 1


def test_no_valid_candidate_is_dropped_with_every_members_reason(tmp_path, llms, traces_file, job_file):
    stats, items = _relabel(tmp_path, llms, traces_file, job_file, ("broken",))
    assert stats["kept"] == 0 and stats["dropped_by_reason"] == {"no-valid-candidate": 3}
    assert "broken: malformed" in items["t1"].reason


def test_all_members_unreachable_is_a_retryable_llm_error(tmp_path, llms, traces_file, job_file):
    stats, items = _relabel(tmp_path, llms, traces_file, job_file, ("slow",))
    assert stats["dropped_by_reason"] == {"llm-error": 3}
    out = StageRun(tmp_path / "run", "relabel", resume=True)
    assert out.done == {}  # a resumed stage asks again
    out.close()


def test_local_hf_model_as_committee_member(tmp_path, llms, traces_file, job_file, tiny_model_dir):
    """A local transformers model served by `resto serve` (here a tiny random one, in a thread) works
    as a committee member: its unusable proposals are recorded; the other member's labels win."""
    import yaml

    from agent.model_loading import load_model
    from agent.serve import BackgroundServer, ServeConfig, create_app

    loaded = load_model(str(tiny_model_dir), device="cpu")
    with BackgroundServer(create_app(loaded, ServeConfig(max_new_tokens=12))) as local:
        path = write_config(tmp_path / "config.yaml", llms.base_url, traces_file, job_file, committee=("good",))
        data = yaml.safe_load(path.read_text())
        data["trace_processing"]["relabelling_committee_models"] = ["good", "local"]
        data["tft"]["endpoints"]["local"] = {"base_url": local.base_url, "model": "resto", "max_retries": 0}
        path.write_text(yaml.safe_dump(data))
        cfg = load_config(path)
        ctx = StageContext(cfg, tmp_path / "run", Job.load(cfg.job_path))
        inputs = [Item("t1", corrupted()[0])]
        out = StageRun(ctx.run_dir, "relabel", resume=False)
        out.attach(ctx.clients)
        extra = run_relabel(ctx, inputs, out)
        stats = out.finish(extra=extra)
        ctx.close()
    item = read_items(out.items_path)[0]
    assert item.keep and item.reason == "only-valid: good"
    assert item.meta["committee"]["local"].startswith("local: malformed")
    assert stats["llm_requests"] == 2
