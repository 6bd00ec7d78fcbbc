"""Shared fixtures. Tests that need the SGD / benchmark data get them from RESTO_DATA_DIR, or from
`../shared/data` beside the repository (what CI and `make test` use). Without either they fail with
one message saying how to get the data: a data test never passes silently by skipping. Every test
that uses the `data_dir` fixture is marked `data`, so `pytest -m "not data"` runs the rest.

Likewise `pg_url` (a fresh database on a throwaway PostgreSQL server, `tests/support/postgres.py`)
marks its tests `postgres`; without the server binaries or psycopg they fail with how to get them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SIBLING_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def find_data_dir() -> Path | None:
    value = os.environ.get("RESTO_DATA_DIR")
    for candidate in ([Path(value)] if value else []) + [SIBLING_DATA]:
        if (candidate / "sgd").is_dir() and (candidate / "tft-benchmark").is_dir():
            return candidate
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "data_dir" in names:
            item.add_marker(pytest.mark.data)
        if "pg_url" in names:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def pg_socket():
    """A PostgreSQL server for the whole test session (its Unix socket folder)."""
    import importlib.util
    import shutil
    import tempfile

    from tests.support.postgres import HOW_TO, find_pg_bin, postgres_server

    if find_pg_bin() is None or importlib.util.find_spec("psycopg") is None:
        pytest.fail(HOW_TO, pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="resto-pg-"))  # short: a socket path must fit in 107 bytes
    try:
        with postgres_server(root) as sock:
            yield sock
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_socket, request) -> str:
    """A fresh, empty database on the session's PostgreSQL server (a SQLAlchemy URL)."""
    import re

    from tests.support.postgres import create_database

    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:50]
    return create_database(pg_socket, name)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    found = find_data_dir()
    if found is None:
        pytest.fail(
            "this test needs the SGD and TFT-benchmark data: set RESTO_DATA_DIR to a folder with sgd/ and "
            "tft-benchmark/ (`resto data download --out DIR` fetches them), or run `pytest -m \"not data\"`",
            pytrace=False,
        )
    return found


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
