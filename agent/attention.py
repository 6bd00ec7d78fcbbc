"""Attention kernels for work whose sequence lengths keep changing: never cuDNN on a GPU.

    with variable_length_attention():
        model(input_ids=..., past_key_values=cache)        # a decode step, a training batch, …

Why: on Hopper GPUs (seen on an H200) PyTorch's scaled_dot_product_attention prefers its cuDNN
backend, and cuDNN builds an execution plan for every new (query length, key length) pair before it
runs. Chat decoding meets a new key length at every token, and training on whole conversations a new
length at nearly every batch, so plan building took much of the time. On an H200 with Qwen3-1.7B's
shape in bf16 (`bench/latency.py --qwen3-1.7b`, which prints both): 50 against 18 tokens/s decoding,
time to first token 27 against 221 ms on average and 36 against 976 ms at worst; a first training
pass 1.58x faster (`bench/train_full_size.py`). Flash and memory-efficient attention have no
per-shape set-up. Without CUDA the context does nothing; on a GPU it only narrows the choice, so where
flash attention does not apply (fp32), PyTorch picks memory-efficient or math attention.

The backend flags it sets are process-wide while the context is open (PyTorch keeps them in one
place), which is harmless here: every caller in this project wants the same choice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def variable_length_attention(enabled: bool = True) -> Iterator[None]:
    """Exclude cuDNN attention while the context is open (a no-op without CUDA or with enabled=False)."""
    import torch

    if not enabled or not torch.cuda.is_available():
        yield
        return
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]):
        yield
