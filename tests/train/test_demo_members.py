"""`resto model demo --members N` (train.demo_members): member inits, members trained in their own
processes (real spawn, 2 steps each on the S1 traces), a failing member as one clear error, and the
command end to end into an ensemble that loads and decodes."""

from __future__ import annotations

import shutil

import pytest
import torch
from transformers import AutoModelForCausalLM

from agent.settings import Settings
from train.demo import DemoConfig
from train.demo_members import MemberFailed, member_base, threads_per_member, train_members


def weights(path):
    return AutoModelForCausalLM.from_pretrained(path).state_dict()


def same(a, b) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_threads_split_the_cores():
    assert threads_per_member(2, cores=2) == 1
    assert threads_per_member(2, cores=16) == 8
    assert threads_per_member(3, cores=2) == 1  # never zero


def test_member_base_shares_the_tokenizer_and_draws_its_own_init(tiny_model_dir, tmp_path):
    a = member_base(tiny_model_dir, tmp_path / "member-0", seed=0)
    b = member_base(tiny_model_dir, tmp_path / "member-1", seed=1)
    assert (a / "tokenizer.json").read_bytes() == (tiny_model_dir / "tokenizer.json").read_bytes()
    assert same(weights(a), weights(tiny_model_dir))  # seed 0 is the init tiny_model_dir was built with
    assert not same(weights(a), weights(b))
    marker = b / "kept"
    marker.write_text("")
    assert member_base(tiny_model_dir, tmp_path / "member-1", seed=5) == b and marker.exists()  # kept on resume


def small_run(tiny_model_dir, tmp_path):
    run_dir = tmp_path / "runs" / "demo"
    shutil.copytree(tiny_model_dir, run_dir / "base")
    return run_dir


def test_members_train_in_their_own_processes(data_dir, tiny_model_dir, tmp_path):
    run_dir = small_run(tiny_model_dir, tmp_path)
    config = DemoConfig(members=2, max_steps=2, ema_decay=None, bf16=False)
    shipped, metrics = train_members(Settings(data_dir=data_dir), config, run_dir)
    assert shipped == [run_dir / "member-0" / "final", run_dir / "member-1" / "final"]
    assert [m["global_step"] for m in metrics] == [2, 2]
    assert not same(weights(shipped[0]), weights(shipped[1]))
    assert "train" in (run_dir / "member-1" / "train.log").read_text()  # member 1 logs to its file
    assert not (run_dir / "member-0" / "train.log").exists()  # member 0 prints to the console


def test_a_failing_member_is_one_clear_error(tiny_model_dir, tmp_path):
    run_dir = small_run(tiny_model_dir, tmp_path)
    no_sgd = tmp_path / "empty-data"
    no_sgd.mkdir()
    with pytest.raises(MemberFailed, match=r"member 0 \(exit 1; its output is above\), member 1 \(exit 1; log: "):
        train_members(Settings(data_dir=no_sgd), DemoConfig(members=2, max_steps=2), run_dir)


@pytest.mark.slow
def test_model_demo_members_command_ships_an_ensemble(data_dir, tmp_path):
    from agent.conversation import user_message
    from agent.ensemble import member_dirs
    from agent.ensemble_lm import EnsembleLM
    from agent.model_loading import load_model
    from agent.policies.hf import HFPolicy
    from cli.main import main

    out = tmp_path / "demo"
    assert main(["--data-dir", str(data_dir), "model", "demo", "--steps", "2", "--members", "2", "--out", str(out)]) == 0
    assert [p.name for p in member_dirs(out)] == ["member-0", "member-1"]
    loaded = load_model(str(out), device="cpu")
    assert isinstance(loaded.model, EnsembleLM) and len(loaded.model.members) == 2
    step = HFPolicy(loaded, max_new_tokens=8).next_call([user_message("Thai food in San Jose")])
    assert step.completion_tokens > 0
