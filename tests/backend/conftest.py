"""Backend fixtures: a tiny SGD-like data directory the tests write themselves, a database built
from it, and (when RESTO_DATA_DIR is set) the full SGD database, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.db import make_engine
from backend.sgd_builder import build_database
from tests.backend.sgd_fixture import write_tiny_sgd


@pytest.fixture
def tiny_sgd(tmp_path: Path) -> Path:
    return write_tiny_sgd(tmp_path / "data")


@pytest.fixture
def tiny_db(tmp_path: Path, tiny_sgd: Path) -> Path:
    path = tmp_path / "tiny.db"
    build_database(str(path), tiny_sgd)
    return path


@pytest.fixture
def tiny_engine(tiny_db: Path):
    engine = make_engine(tiny_db)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def sgd_db(data_dir: Path, tmp_path_factory) -> Path:
    """The full SGD database, built once per test session."""
    path = tmp_path_factory.mktemp("sgd-db") / "resto.db"
    build_database(str(path), data_dir / "sgd")
    return path


@pytest.fixture
def sgd_engine(sgd_db: Path):
    engine = make_engine(sgd_db)
    yield engine
    engine.dispose()
