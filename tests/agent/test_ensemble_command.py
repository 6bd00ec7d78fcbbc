"""`resto model ensemble` (agent.ensemble.combine_models): models trained apart become one ensemble
directory that loads and decodes like any model; members with another tokenizer, a missing model, a
used output directory and a single model are refused with one sentence and leave nothing behind."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from agent.ensemble import ENSEMBLE_FILE, EnsembleError, combine_models, member_dirs
from agent.ensemble_lm import EnsembleLM
from agent.model_loading import load_model
from agent.resolve import DEMO_CARD, declares_grounded
from agent.tiny import TinyConfig, build_tiny_model
from cli.main import main

SMALL = dict(vocab_size=600, layers=2, hidden=64, heads=2, kv_heads=1)


@pytest.fixture(scope="module")
def seed_one_dir(tmp_path_factory):
    """Same tokenizer as tiny_model_dir (BPE training is deterministic), other random weights."""
    return build_tiny_model(tmp_path_factory.mktemp("seed1"), TinyConfig(**SMALL, seed=1))


@pytest.fixture(scope="module")
def other_tokenizer_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("vocab500"), TinyConfig(**{**SMALL, "vocab_size": 500}))


def test_command_writes_an_ensemble_that_decodes_as_the_mean(tiny_model_dir, seed_one_dir, tmp_path, capsys):
    out = tmp_path / "pair"
    assert main(["model", "ensemble", str(tiny_model_dir), str(seed_one_dir), "--out", str(out)]) == 0
    assert "an ensemble of 2 models" in capsys.readouterr().out
    assert [p.name for p in member_dirs(out)] == ["member-0", "member-1"]
    loaded = load_model(str(out), device="cpu")
    assert isinstance(loaded.model, EnsembleLM)
    ids = loaded.tokenizer("a table for two in San Jose", return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        mixed = loaded.model(input_ids=ids).logits
        singles = [load_model(str(d), device="cpu").model(input_ids=ids).logits for d in (tiny_model_dir, seed_one_dir)]
    expected = torch.stack([s.log_softmax(-1) for s in singles]).mean(0)
    torch.testing.assert_close(mixed.log_softmax(-1), expected.log_softmax(-1), rtol=1e-4, atol=1e-4)
    assert not list(tmp_path.glob(".pair-*")), "the staging directory is gone"


def test_grounded_decoding_is_declared_when_every_input_declares_it(tiny_model_dir, seed_one_dir, tmp_path):
    """Demo models declare grounded decoding in demo.json; an ensemble of them must too (the chat's default)."""
    plain = combine_models(tmp_path / "plain", [tiny_model_dir, seed_one_dir])
    assert not declares_grounded(plain)
    demos = []
    for name, source in (("a", tiny_model_dir), ("b", seed_one_dir)):
        shutil.copytree(source, tmp_path / name)
        (tmp_path / name / DEMO_CARD).write_text(json.dumps({"decoding": "grounded"}))
        demos.append(tmp_path / name)
    assert declares_grounded(combine_models(tmp_path / "demos", demos))
    assert not declares_grounded(combine_models(tmp_path / "mixed", [demos[0], seed_one_dir]))
    assert declares_grounded(combine_models(tmp_path / "nested", [tmp_path / "demos", demos[1]]))


def test_an_ensemble_among_the_models_adds_its_members(tiny_model_dir, seed_one_dir, tmp_path):
    pair = combine_models(tmp_path / "pair", [tiny_model_dir, seed_one_dir])
    triple = combine_models(tmp_path / "triple", [pair, tiny_model_dir])
    assert len(member_dirs(triple)) == 3
    assert json.loads((triple / ENSEMBLE_FILE).read_text())["members"] == ["member-0", "member-1", "member-2"]
    assert load_model(str(triple), device="cpu").model.__class__ is EnsembleLM


def test_refusals_are_one_sentence_and_leave_nothing(tiny_model_dir, other_tokenizer_dir, tmp_path, capsys):
    out = tmp_path / "bad"
    assert main(["model", "ensemble", str(tiny_model_dir), str(other_tokenizer_dir), "--out", str(out)]) == 2
    assert "has another tokenizer than" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".bad-*"))
    with pytest.raises(EnsembleError, match="no config.json"):
        combine_models(out, [tiny_model_dir, tmp_path / "missing"])
    with pytest.raises(EnsembleError, match="at least two models"):
        combine_models(out, [tiny_model_dir])
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("keep me")
    with pytest.raises(EnsembleError, match="not empty"):
        combine_models(used, [tiny_model_dir, tiny_model_dir])
    assert (used / "notes.txt").read_text() == "keep me"
    with pytest.raises(EnsembleError, match="one of the members"):
        combine_models(tiny_model_dir / "inside", [tiny_model_dir, tiny_model_dir])
    assert not out.exists()
