"""Attention kernels for variable-length work: cuDNN excluded on CUDA and restored after; the hf
policy and batch generation decode inside the context (the flags are plain settings, so they can be
checked on a CPU machine with CUDA reported as present)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import torch

from agent.attention import variable_length_attention
from agent.conversation import user_message
from agent.model_loading import load_model
from agent.policies import hf


def backends() -> dict[str, bool]:
    cuda = torch.backends.cuda
    return {"cudnn": cuda.cudnn_sdp_enabled(), "flash": cuda.flash_sdp_enabled(),
            "efficient": cuda.mem_efficient_sdp_enabled(), "math": cuda.math_sdp_enabled()}


def test_with_cuda_cudnn_is_excluded_while_open_and_restored_after(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    before = backends()
    assert before["cudnn"], "PyTorch enables every backend by default"
    with variable_length_attention():
        assert backends() == {"cudnn": False, "flash": True, "efficient": True, "math": True}
    assert backends() == before
    with variable_length_attention(enabled=False):
        assert backends() == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="about machines without CUDA")
def test_without_cuda_nothing_changes():
    before = backends()
    with variable_length_attention():
        assert backends() == before


@pytest.fixture
def recorded(monkeypatch):
    """Replace the context in agent.policies.hf with one that records how it was opened."""
    calls: list[bool] = []

    @contextmanager
    def recorder(enabled: bool = True):
        calls.append(enabled)
        yield

    monkeypatch.setattr(hf, "variable_length_attention", recorder)
    return calls


def test_the_policy_and_batch_generation_decode_inside_it(tiny_model_dir, recorded):
    loaded = load_model(str(tiny_model_dir), device="cpu")
    prompt = [user_message("A table for two in San Jose, please.")]
    hf.HFPolicy(loaded, max_new_tokens=2).next_call(prompt)
    hf.HFPolicy(loaded, max_new_tokens=2, avoid_cudnn_attention=False).next_call(prompt)
    hf.generate_batch(loaded, [prompt], max_new_tokens=2)
    assert recorded == [True, False, True]
