"""Random-init models with the public Qwen3 configurations, for measuring the GPU path without the hub.

    resto model full-size --out /tmp/q17                      # Qwen3-1.7B's shape, bf16, ~3.4 GB on disk
    resto model full-size --out /tmp/q06 --preset qwen3-0.6b --tokenizer ~/.resto/models/demo

Nothing here is a usable model: the weights are random. What is real is everything that depends
only on the shape: the memory a bf16 or 4-bit load takes, the speed of decoding and of LoRA/QLoRA
training steps, and that every code path (`load_model(..., quantization="4bit")`, `resto train
direct` with `method: qlora`, the merge) runs on the real architecture. The vocabulary keeps the
public size (151,936 rows: the embedding is 0.31B of Qwen3-1.7B's 1.72B parameters, so memory
figures stay honest) while the tokenizer is the project's tiny one, whose ids are all below it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The shape fields of the public config.json of Qwen/Qwen3-1.7B and Qwen/Qwen3-0.6B.
PRESETS: dict[str, dict[str, Any]] = {
    "qwen3-1.7b": dict(
        vocab_size=151936, hidden_size=2048, intermediate_size=6144, num_hidden_layers=28,
        num_attention_heads=16, num_key_value_heads=8, head_dim=128, max_position_embeddings=40960,
        rope_theta=1000000.0, tie_word_embeddings=True, rms_norm_eps=1e-6,
    ),
    "qwen3-0.6b": dict(
        vocab_size=151936, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
        num_attention_heads=16, num_key_value_heads=8, head_dim=128, max_position_embeddings=40960,
        rope_theta=1000000.0, tie_word_embeddings=True, rms_norm_eps=1e-6,
    ),
}


def preset_config(preset: str, **overrides: Any):
    """A Qwen3Config with a preset's shape (overrides: e.g. fewer layers, for tests)."""
    from transformers import Qwen3Config

    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}: use one of {', '.join(PRESETS)}")
    return Qwen3Config(**{**PRESETS[preset], **overrides})


def parameter_count(config: Any) -> int:
    """Parameters of a model of this config, counted on the meta device (nothing is allocated)."""
    import torch
    from transformers import Qwen3ForCausalLM

    with torch.device("meta"):
        model = Qwen3ForCausalLM(config)
    return sum(p.numel() for p in model.parameters())


def random_model(config: Any, device: str = "cpu", dtype: Any = None, seed: int = 0):
    """A random-init Qwen3ForCausalLM built directly on `device` (no CPU copy of a GPU-sized model)."""
    import torch
    from transformers import Qwen3ForCausalLM

    torch.manual_seed(seed)
    with torch.device(device):
        model = Qwen3ForCausalLM(config)
    return model.to(dtype) if dtype is not None else model


def build_full_size_model(
    out_dir: str | Path, tokenizer_dir: str | Path, preset: str = "qwen3-1.7b", dtype: str = "bf16",
    device: str = "cpu", seed: int = 0, **overrides: Any,
) -> Path:
    """Write a random-init model of `preset`'s shape with the tokenizer of `tokenizer_dir` to out_dir."""
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = preset_config(preset, **overrides)
    if len(tokenizer) > config.vocab_size:
        raise ValueError(f"the tokenizer has {len(tokenizer)} tokens, more than the model's {config.vocab_size} rows")
    config.bos_token_id = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config.eos_token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    config.pad_token_id = tokenizer.pad_token_id
    torch_dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[dtype]
    model = random_model(config, device, torch_dtype, seed)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
