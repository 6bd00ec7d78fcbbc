"""TFT config: the benchmark's config.yaml keys load unchanged; our `tft:` section adds endpoints."""

from __future__ import annotations

import shutil

import pytest
import yaml

from backend.errors import UserError
from train.tft.config import load_config


@pytest.mark.data
def test_benchmark_config_loads_with_our_section(benchmark_dir, tmp_path, monkeypatch):
    src = benchmark_dir / "scenario-2-noisy-labels" / "tft" / "config.yaml"
    data = yaml.safe_load(src.read_text())
    data["tft"] = {"traces": str(src.parent / "traces.jsonl"), "job_description": str(src.parent / "job_description.json"),
                   "endpoints": {"zai.glm-5": {"base_url": "http://gpu:8000/v1", "model": "GLM-5", "api_key_env": "K"}}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("K", "secret")
    cfg = load_config(path)
    assert cfg.teacher == "zai.glm-5" and cfg.judge == "openai.gpt-oss-120b"
    assert cfg.committee == ["openai.gpt-oss-120b", "zai.glm-5"]
    assert cfg.trace_processing.min_relevance_score == 3 and cfg.synthgen.generation_target == 2000
    assert len(cfg.synthgen.mutation_topics) == 4 and cfg.synthgen.validation_max_total_length == 20000
    assert cfg.tft.finetune.model == "Qwen/Qwen3-1.7B"  # from base.student_model_name
    endpoint = cfg.endpoint("zai.glm-5", tmp_path / "cache")
    assert endpoint.api_key == "secret" and endpoint.cache_dir == tmp_path / "cache"
    with pytest.raises(UserError, match="no endpoint for model 'openai.gpt-oss-120b'"):
        cfg.endpoint("openai.gpt-oss-120b", tmp_path)
    assert cfg.traces_path.exists()


@pytest.mark.data
def test_plain_benchmark_file_is_accepted(benchmark_dir, tmp_path):
    shutil.copy(benchmark_dir / "scenario-4-low-data" / "tft" / "config.yaml", tmp_path / "config.yaml")
    cfg = load_config(tmp_path / "config.yaml")
    assert cfg.traces_path == tmp_path / "traces.jsonl"  # relative to the config file


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("synthgen: [unclosed")
    with pytest.raises(UserError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("trace_processing: {min_relevance_score: 9}")
    with pytest.raises(UserError, match="min_relevance_score"):
        load_config(bad)
    bad.write_text("tft: {endpoint: {}}")  # typo of `endpoints`
    with pytest.raises(UserError, match="endpoint"):
        load_config(bad)
