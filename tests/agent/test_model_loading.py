"""load_model: local directories, adapters, and one clear sentence when nothing can be loaded."""

from __future__ import annotations

import pytest
import torch

from agent.model_loading import ModelLoadError, load_model


def test_loads_a_local_directory_in_fp32_on_cpu(tiny_model_dir):
    loaded = load_model(str(tiny_model_dir), device="cpu")
    assert loaded.device == "cpu"
    assert next(loaded.model.parameters()).dtype == torch.float32
    assert not loaded.model.training
    assert str(tiny_model_dir) in loaded.description


def test_uncached_hub_id_fails_fast_with_alternatives():
    with pytest.raises(ModelLoadError) as info:
        load_model("distillabs/definitely-not-cached-model", device="cpu")
    message = str(info.value)
    assert "local Hugging Face cache" in message
    assert "resto model demo" in message and "--endpoint" in message and "--model" in message
    assert message.count(". ") == 0  # one sentence


def test_missing_adapter_is_a_clear_error(tiny_model_dir, tmp_path):
    with pytest.raises(ModelLoadError, match="adapter"):
        load_model(str(tiny_model_dir), adapter=str(tmp_path / "nope"), device="cpu")


def test_quantization_needs_cuda(tiny_model_dir):
    with pytest.raises(ModelLoadError, match="CUDA"):
        load_model(str(tiny_model_dir), quantization="4bit", device="cpu")


def test_lora_adapter_is_attached(tiny_model_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    peft_model = get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    peft_model.save_pretrained(tmp_path / "adapter")
    loaded = load_model(str(tiny_model_dir), adapter=str(tmp_path / "adapter"), device="cpu")
    assert "adapter" in loaded.description
    assert type(loaded.model).__name__.startswith("Peft")
