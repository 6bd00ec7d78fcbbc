"""The data fixture finds the data the way CI does, and never hides a missing data dir."""

from __future__ import annotations

import tests.conftest as shared


def test_data_dir_comes_from_the_environment_then_beside_the_repository(tmp_path, monkeypatch):
    good = tmp_path / "data"
    (good / "sgd").mkdir(parents=True)
    (good / "tft-benchmark").mkdir()
    monkeypatch.setattr(shared, "SIBLING_DATA", tmp_path / "nowhere")
    monkeypatch.setenv("RESTO_DATA_DIR", str(good))
    assert shared.find_data_dir() == good
    monkeypatch.setenv("RESTO_DATA_DIR", str(tmp_path / "empty"))
    assert shared.find_data_dir() is None
    monkeypatch.delenv("RESTO_DATA_DIR")
    monkeypatch.setattr(shared, "SIBLING_DATA", good)
    assert shared.find_data_dir() == good


def test_tests_using_the_data_are_marked_data(request, data_dir):
    assert request.node.get_closest_marker("data") is not None
    assert (data_dir / "sgd").is_dir()
