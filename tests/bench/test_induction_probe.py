"""bench/induction_probe.py: the repeat task, its copy accuracy, and a short probe on a tiny model."""

import importlib.util
import random
from pathlib import Path

import pytest
import torch

SPEC = importlib.util.spec_from_file_location("induction_probe", Path(__file__).parents[2] / "bench" / "induction_probe.py")
induction_probe = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(induction_probe)


def test_the_second_copy_repeats_the_first_and_only_copies_are_marked():
    pool = list(range(10, 60))
    for seed in range(20):
        ids, copied = induction_probe.repeat_sequence(random.Random(seed), pool, 64)
        assert len(ids) == len(copied) == 64 and set(ids) <= set(pool)
        marked = [i for i, c in enumerate(copied) if c]
        n = marked[0] - 1  # the repeat starts at n; its first token is not marked
        assert 16 <= n <= 32 and marked == list(range(n + 1, 2 * n))
        assert ids[n : 2 * n] == ids[:n]


class Oracle(torch.nn.Module):
    """Predicts every next token (right), or always token 0 (wrong)."""

    def __init__(self, right: bool):
        super().__init__()
        self.right = right

    def forward(self, input_ids):
        logits = torch.zeros(*input_ids.shape, 100)
        if self.right:
            logits[:, :-1].scatter_(-1, input_ids[:, 1:, None], 1.0)
        else:
            logits[..., 0] = 1.0
        return type("Out", (), {"logits": logits})()


def test_copy_accuracy_counts_the_copied_positions():
    sequences = [induction_probe.repeat_sequence(random.Random(i), list(range(1, 100)), 48) for i in range(4)]
    assert induction_probe.copy_accuracy(Oracle(True), sequences) == 1.0
    assert induction_probe.copy_accuracy(Oracle(False), sequences) == 0.0


def test_a_short_probe_on_a_tiny_model_reports_each_checkpoint(tiny_model_dir):
    model, pool = induction_probe.load(Path(tiny_model_dir), qk_norm=2.0)
    assert all(p.eq(2.0).all() for n, p in model.named_parameters() if "q_norm" in n or "k_norm" in n)
    before = [p.detach().clone() for p in model.parameters()]
    rows = list(induction_probe.probe(model, pool[:50], steps=3, batch=2, length=32, lr=1e-3, every=2))
    assert [r[0] for r in rows] == [0, 2, 3] and all(0.0 <= r[2] <= 1.0 for r in rows)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))  # it trained


def test_without_qk_norm_the_model_keeps_its_own_weights(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    saved = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        for n, p in saved.named_parameters():
            if "q_norm" in n:
                p.fill_(3.0)  # as a trained model's would be: not Qwen3's init of 1
    saved.save_pretrained(tmp_path / "trained")
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(tmp_path)  # found in the parent
    model, _ = induction_probe.load(tmp_path / "trained")
    assert all(p.eq(3.0).all() for n, p in model.named_parameters() if "q_norm" in n)


@pytest.mark.parametrize("pool", [0, 40])
def test_the_command_runs(tiny_model_dir, pool, monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["induction_probe", str(tiny_model_dir), "--steps", "1", "--batch", "1",
                                     "--length", "24", "--every", "1", "--pool", str(pool), "--threads", "1"])
    assert induction_probe.main() == 0
    out = capsys.readouterr().out
    assert "copy accuracy" in out and ("(chance 0.025)" in out if pool else "tokens (chance" in out)


def test_without_a_model_it_skips(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["induction_probe", str(tmp_path / "nothing")])
    assert induction_probe.main() == induction_probe.SKIPPED
    assert "SKIPPED" in capsys.readouterr().out


def test_save_writes_a_model_that_loads_with_the_trained_weights(tiny_model_dir, tmp_path, monkeypatch, capsys):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "warmed"
    monkeypatch.setattr("sys.argv", ["induction_probe", str(tiny_model_dir), "--steps", "2", "--batch", "1",
                                     "--length", "24", "--every", "2", "--threads", "1", "--save", str(out)])
    assert induction_probe.main() == 0
    assert f"saved to {out}" in capsys.readouterr().out
    source = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    warmed = AutoModelForCausalLM.from_pretrained(out)
    assert len(AutoTokenizer.from_pretrained(out)) == len(AutoTokenizer.from_pretrained(tiny_model_dir))
    changed = [not torch.equal(a, b) for a, b in zip(source.parameters(), warmed.parameters(), strict=True)]
    assert any(changed)  # the trained weights, not the source's
