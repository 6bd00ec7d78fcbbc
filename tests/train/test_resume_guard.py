"""A run directory resumes only the run that made it: another config or other data is refused,
with what differs, and nothing of the old run is overwritten."""

import json

import pytest

from train.dataset import Example
from train.finetune import FinetuneConfig, finetune
from train.resume_guard import MAY_CHANGE, ResumeMismatch, data_fingerprint, differences


def config(model_dir, **kw):
    base = dict(model=str(model_dir), method="full", lr=3e-3, max_steps=2, batch_size=2, grad_accumulation=1,
                save_steps=2, logging_steps=1, lr_scheduler="constant", progress=False, seed=1)
    return FinetuneConfig(**{**base, **kw})


@pytest.fixture
def finished_run(tiny_model_dir, small_traces, short_render, tmp_path):
    """A run directory holding checkpoint-2 of a two-step run, and its records as written."""
    finetune(config(tiny_model_dir), small_traces, tmp_path, tools=[], render=short_render)
    assert (tmp_path / "checkpoints" / "checkpoint-2").is_dir()
    return tmp_path, {name: (tmp_path / name).read_text() for name in ("config.json", "data.json")}


def test_the_same_run_resumes(finished_run, tiny_model_dir, small_traces, short_render):
    run_dir, _ = finished_run
    # bookkeeping may change: a longer step bound continues from the checkpoint
    again = finetune(config(tiny_model_dir, max_steps=4, logging_steps=2), small_traces, run_dir, tools=[],
                     render=short_render)
    assert again.metrics["resumed_from"].endswith("checkpoint-2")
    assert again.metrics["global_step"] == 4


def test_another_learning_rate_is_refused_with_the_difference(finished_run, tiny_model_dir, small_traces, short_render):
    run_dir, records = finished_run
    with pytest.raises(ResumeMismatch) as caught:
        finetune(config(tiny_model_dir, lr=1e-2), small_traces, run_dir, tools=[], render=short_render)
    message = str(caught.value)
    assert "checkpoint-2" in message and "lr: 0.003 → 0.01" in message and "resume: false" in message
    # nothing of the old run was replaced: a second try is refused the same way
    assert {name: (run_dir / name).read_text() for name in records} == records
    with pytest.raises(ResumeMismatch):
        finetune(config(tiny_model_dir, lr=1e-2), small_traces, run_dir, tools=[], render=short_render)


def test_other_conversations_are_refused(finished_run, tiny_model_dir, small_traces, short_render):
    run_dir, _ = finished_run
    with pytest.raises(ResumeMismatch, match="training conversations differ"):
        finetune(config(tiny_model_dir), small_traces[:3], run_dir, tools=[], render=short_render)


def test_resume_false_starts_afresh_in_the_same_directory(finished_run, tiny_model_dir, small_traces, short_render):
    run_dir, _ = finished_run
    result = finetune(config(tiny_model_dir, lr=1e-2, resume=False), small_traces, run_dir, tools=[],
                      render=short_render)
    assert result.metrics["resumed_from"] is None and result.metrics["global_step"] == 2
    assert json.loads((run_dir / "config.json").read_text())["lr"] == 1e-2


def test_a_checkpoint_without_its_config_is_refused(finished_run, tiny_model_dir, small_traces, short_render):
    run_dir, _ = finished_run
    (run_dir / "config.json").unlink()
    with pytest.raises(ResumeMismatch, match="settings are unknown"):
        finetune(config(tiny_model_dir), small_traces, run_dir, tools=[], render=short_render)


def test_the_fingerprint_covers_ids_mask_and_order():
    a, b = Example([1, 23, 4], [-100, 23, 4]), Example([12, 3, 4], [-100, 3, 4])
    assert data_fingerprint([a, b]) == data_fingerprint([Example([1, 23, 4], [-100, 23, 4]), b])
    assert data_fingerprint([a, b]) != data_fingerprint([b, a])
    assert data_fingerprint([a]) != data_fingerprint([Example([1, 23, 4], [-100, -100, 4])])
    assert data_fingerprint([a]) != data_fingerprint([Example([12, 3, 4], [-100, 23, 4])])


def test_only_bookkeeping_may_change():
    base = FinetuneConfig(model="m", seed=1)
    previous = base.model_dump(mode="json")
    bookkeeping = {"max_steps": 9, "bf16": True, "progress": False}
    assert set(bookkeeping) <= MAY_CHANGE
    assert differences(previous, base.model_copy(update=bookkeeping)) == []
    assert differences(previous, base.model_copy(update={"seed": 2})) == ["seed: 1 → 2"]
    # a field another version did not write is not known to match
    assert differences({k: v for k, v in previous.items() if k != "dropout"}, base) == ["dropout: '(absent)' → 0.0"]


def test_a_model_inside_the_run_directory_is_compared_by_its_place_there(tmp_path):
    run_dir = tmp_path / "home" / "runs" / "demo"
    moved = FinetuneConfig(model=str(run_dir / "base"), seed=1)
    previous = moved.model_copy(update={"model": "/old/home/runs/demo/base"}).model_dump(mode="json")
    assert differences(previous, moved, run_dir) == []
    # another place inside it, or a model outside it, is another model
    assert differences({**previous, "model": "/old/home/runs/demo/other"}, moved, run_dir) != []
    outside = FinetuneConfig(model=str(tmp_path / "models" / "base"), seed=1)
    assert differences(previous, outside, run_dir) == [f"model: '/old/home/runs/demo/base' → '{outside.model}'"]
    assert differences({**previous, "model": "Qwen/Qwen3-1.7B"}, FinetuneConfig(model="Qwen/Qwen3-0.6B", seed=1),
                       run_dir) != []
    # without the run directory, paths are compared as written
    assert differences(previous, moved) != []


def test_a_moved_run_directory_resumes(tiny_model_dir, small_traces, short_render, tmp_path):
    """The demo keeps its random init in <run_dir>/base: moving RESTO_HOME must not orphan the run."""
    import shutil

    first = tmp_path / "first"
    shutil.copytree(tiny_model_dir, first / "base")
    finetune(config(first / "base"), small_traces, first, tools=[], render=short_render)
    second = first.rename(tmp_path / "second")
    again = finetune(config(second / "base", max_steps=4), small_traces, second, tools=[], render=short_render)
    assert again.metrics["resumed_from"].endswith("checkpoint-2") and again.metrics["global_step"] == 4
