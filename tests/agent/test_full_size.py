"""Random-init models with the public Qwen3 shapes: the presets' sizes, a saved model that loads and
generates through the project's loader, and clear errors."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from agent.full_size import PRESETS, build_full_size_model, parameter_count, preset_config
from agent.model_loading import load_model
from cli.main import main

# the smallest shape that keeps the preset's vocabulary (151,936 rows) and its wiring
SMALL = dict(num_hidden_layers=1, hidden_size=64, intermediate_size=128, num_attention_heads=2,
             num_key_value_heads=1, head_dim=32)


def test_presets_have_the_public_parameter_counts():
    # Qwen3-1.7B: 1.7B parameters, 1.4B without the (tied) embedding; Qwen3-0.6B: 0.6B and 0.44B
    big, small = parameter_count(preset_config("qwen3-1.7b")), parameter_count(preset_config("qwen3-0.6b"))
    assert big == 1_720_574_976
    assert small == 596_049_920
    embedding = 151_936 * 2048
    assert round((big - embedding) / 1e9, 2) == 1.41
    assert round((small - 151_936 * 1024) / 1e9, 2) == 0.44


def test_a_saved_model_loads_and_generates_with_the_tiny_tokenizer(tiny_model_dir, tmp_path):
    out = build_full_size_model(tmp_path / "full", tiny_model_dir, "qwen3-1.7b", dtype="fp32", **SMALL)
    loaded = load_model(str(out), device="cpu")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    config = loaded.model.config
    assert config.vocab_size == PRESETS["qwen3-1.7b"]["vocab_size"] > len(tokenizer)
    assert config.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert config.tie_word_embeddings and config.rope_parameters["rope_theta"] == 1_000_000.0
    ids = tokenizer("<|im_start|>user\nhello<|im_end|>", return_tensors="pt")["input_ids"]
    generated = loaded.model.generate(ids, max_new_tokens=3, min_new_tokens=3, do_sample=False)
    assert generated.shape[1] == ids.shape[1] + 3


def test_same_seed_same_weights(tiny_model_dir, tmp_path):
    from safetensors.torch import load_file

    a = build_full_size_model(tmp_path / "a", tiny_model_dir, "qwen3-0.6b", dtype="fp32", seed=3, **SMALL)
    b = build_full_size_model(tmp_path / "b", tiny_model_dir, "qwen3-0.6b", dtype="fp32", seed=3, **SMALL)
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys() and all((wa[k] == wb[k]).all() for k in wa)


def test_bad_presets_and_tokenizers_are_clear_errors(tiny_model_dir, tmp_path, capsys):
    with pytest.raises(ValueError, match="unknown preset"):
        preset_config("qwen3-99b")
    with pytest.raises(ValueError, match="more than the model's"):
        build_full_size_model(tmp_path / "x", tiny_model_dir, "qwen3-0.6b", dtype="fp32", **{**SMALL, "vocab_size": 50})
    rc = main(["model", "full-size", "--out", str(tmp_path / "y"), "--tokenizer", str(tmp_path)])
    assert rc == 2
    assert "holds no tokenizer" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()
