"""Model resolution: flag → configured → cached hub model → demo model → a clear explanation."""

from __future__ import annotations

import huggingface_hub.constants
import pytest

from agent.resolve import resolve_model
from agent.settings import DEFAULT_HUB_MODEL, Settings


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    cache = tmp_path / "hf-hub"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


def fake_model_dir(path):
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / "model.safetensors").write_bytes(b"")
    return path


def cache_hub_model(cache, model_id):
    """The Hugging Face cache layout: models--org--name/{refs/main, snapshots/<commit>/…}."""
    repo = cache / ("models--" + model_id.replace("/", "--"))
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    fake_model_dir(repo / "snapshots" / commit)


@pytest.fixture
def settings(monkeypatch):
    for name in ("RESTO_MODEL", "RESTO_ENDPOINT", "RESTO_ADAPTER"):
        monkeypatch.delenv(name, raising=False)
    return Settings()


def test_nothing_found_explains_how_to_get_a_model(settings, hub_cache):
    res = resolve_model(settings)
    assert (res.kind, res.source, res.found) == ("none", "none", False)
    text = res.explanation
    assert DEFAULT_HUB_MODEL in text and str(settings.demo_model_dir) in text
    assert "resto model demo" in text and "--endpoint" in text and "--model" in text
    assert len(text.splitlines()) <= 24  # one screen


def test_demo_model_when_hub_model_is_not_cached(settings, hub_cache):
    fake_model_dir(settings.demo_model_dir)
    res = resolve_model(settings)
    assert (res.kind, res.source, res.model) == ("hf", "demo", str(settings.demo_model_dir))


def test_an_empty_demo_dir_does_not_count(settings, hub_cache):
    settings.demo_model_dir.mkdir(parents=True)
    assert resolve_model(settings).kind == "none"


def test_cached_hub_model_beats_the_demo_model(settings, hub_cache):
    fake_model_dir(settings.demo_model_dir)
    cache_hub_model(hub_cache, DEFAULT_HUB_MODEL)
    res = resolve_model(settings)
    assert (res.kind, res.source, res.model) == ("hf", "hub-cache", DEFAULT_HUB_MODEL)


def test_configured_model_and_endpoint(monkeypatch, hub_cache):
    cache_hub_model(hub_cache, DEFAULT_HUB_MODEL)
    monkeypatch.setenv("RESTO_MODEL", "/models/mine")
    monkeypatch.setenv("RESTO_ADAPTER", "/runs/lora")
    res = resolve_model(Settings())
    assert (res.kind, res.source, res.model, res.adapter) == ("hf", "config", "/models/mine", "/runs/lora")
    assert "adapter" in res.describe()
    monkeypatch.setenv("RESTO_ENDPOINT", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("RESTO_ENDPOINT_MODEL", "qwen")
    res = resolve_model(Settings())
    assert (res.kind, res.source, res.endpoint, res.model) == (
        "openai",
        "config",
        "http://127.0.0.1:9/v1",
        "qwen",
    )


def test_flags_win(monkeypatch, settings, hub_cache):
    monkeypatch.setenv("RESTO_ENDPOINT", "http://127.0.0.1:9/v1")
    configured = Settings()
    res = resolve_model(configured, model="/tmp/flag-model")
    assert (res.kind, res.source, res.model) == ("hf", "flag", "/tmp/flag-model")
    res = resolve_model(configured, endpoint="http://127.0.0.1:8000/v1", model="/tmp/flag-model")
    assert (res.kind, res.source, res.endpoint) == ("openai", "flag", "http://127.0.0.1:8000/v1")
