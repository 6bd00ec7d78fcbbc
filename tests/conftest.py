"""Shared fixtures. Tests that need the SGD / benchmark data are marked `data` and skipped when
RESTO_DATA_DIR is not set (CI and `make test` set it to ../shared/data when it exists)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_dir() -> Path:
    value = os.environ.get("RESTO_DATA_DIR")
    if not value or not Path(value, "sgd").is_dir():
        pytest.skip("RESTO_DATA_DIR is not set to a folder with sgd/ and tft-benchmark/")
    return Path(value)


@pytest.fixture(scope="session")
def benchmark_dir(data_dir: Path) -> Path:
    return data_dir / "tft-benchmark"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random-init Qwen3 model + tokenizer (built once per session, a few seconds):
    2 layers, hidden 64, vocab 600, the project's chat template. Load it with from_pretrained."""
    from agent.tiny import TinyConfig, build_tiny_model

    config = TinyConfig(vocab_size=600, layers=2, hidden=64, heads=2, kv_heads=1, seed=0)
    return build_tiny_model(tmp_path_factory.mktemp("tiny_model"), config)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own RESTO_HOME so nothing touches ~/.resto or the repo's var/."""
    monkeypatch.setenv("RESTO_HOME", str(tmp_path_factory.mktemp("home")))
