"""backend.replay: SGD's calls replayed against the database built from them."""

from __future__ import annotations

from collections import Counter

from backend.replay import replay


def test_tiny_replay_is_faithful(tiny_engine, tiny_sgd):
    report = replay(tiny_engine, tiny_sgd)
    assert (report.find_calls, report.reserve_calls) == (6, 5)
    assert report.find_subset == 6
    assert report.reserve_success_failure == report.reserve_outcome == 5
    # One exception, by design: the chain's other branch was returned by some searches; we keep one.
    assert [m.kind for m in report.mismatches] == []
    assert report.find_records_exact == 4


def test_full_sgd_replay(sgd_engine, data_dir):
    report = replay(sgd_engine, data_dir / "sgd")
    assert (report.find_calls, report.reserve_calls) == (1367, 1512)
    assert report.find_subset == 1367  # every restaurant SGD returned is in our match set
    assert report.reserve_success_failure == 1512
    assert report.reserve_outcome == 1512  # alternative slots included
    # The only exceptions: SGD lists that are a strict prefix of ours (see the README).
    assert Counter(m.kind for m in report.mismatches) == {"find-list": 50}
    assert report.find_exact == 1317
