"""Residual dropout while training: nanoGPT's regulariser, without changing the saved model.

    handles = add_residual_dropout(model, 0.1)   # training-mode forwards now drop activations
    ...                                          # train
    for h in handles: h.remove()                 # (optional: hooks are not saved with the weights)

Qwen3 has no dropout on its residual stream; its one knob, `attention_dropout`, acts on the attention
probabilities, which the fused SDPA path applies only in eager attention. A model trained from scratch
on 327 conversations overfits them (`bench/decision_fit.py MODEL --train 327` on the v4 seed-0 demo
model: held-out loss per token 2.06x the training loss, 96.9% of training decisions right against
95.4% held out), the situation dropout is
for: nanoGPT trains its small-data Shakespeare model with dropout 0.2 on the token embeddings and on
each block's attention and MLP outputs before they join the residual stream. These forward hooks do
exactly that on any decoder whose blocks name their parts `self_attn` and `mlp` (Qwen3, Llama, Qwen2…)
and whose input embeddings are `get_input_embeddings()`.

The hooks act only while a module is in training mode (`model.train()`), so evaluation inside the
run, the saved weights and inference are unchanged: the shipped model is the plain architecture.
Dropout draws from torch's RNG, which the Trainer saves in each checkpoint, so a resumed run draws
the same masks.
"""

from __future__ import annotations

from typing import Any

BLOCK_PARTS = ("self_attn", "mlp")


def _dropout_hook(p: float):
    import torch.nn.functional as F

    def hook(module, args, output):
        if not module.training:
            return None  # None keeps the module's own output
        # attention returns (output, weights); only the output joins the residual stream
        if isinstance(output, tuple):
            return (F.dropout(output[0], p, True), *output[1:])
        return F.dropout(output, p, True)

    return hook


def dropout_targets(model: Any) -> list[Any]:
    """The modules whose outputs get dropout: the input embeddings and every block's attention and MLP."""
    parts = [module for name, module in model.named_modules() if name.rsplit(".", 1)[-1] in BLOCK_PARTS]
    if not parts:
        raise ValueError(f"{type(model).__name__} has no `self_attn` / `mlp` modules to put dropout on")
    return [model.get_input_embeddings(), *parts]


def add_residual_dropout(model: Any, p: float) -> list[Any]:
    """Register dropout with probability `p` on the outputs of `dropout_targets(model)`; returns the
    hook handles (`handle.remove()` takes one off). p = 0 registers nothing."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout must be in [0, 1), got {p}")
    if p == 0:
        return []
    hook = _dropout_hook(p)
    return [module.register_forward_hook(hook) for module in dropout_targets(model)]
