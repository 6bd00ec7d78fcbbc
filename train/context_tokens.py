"""An auxiliary language-modelling loss on the conversation's context: user turns and tool results.

Why: the demo model is trained from scratch, so it has no pretraining, and the supervised tokens
(the assistant calls, ~16% of a conversation) give it almost no reason to learn to *copy* from
its context. The tiny model trained on assistant tokens alone never copies an argument value: it
books "Mcdonald's" in "San Francisco" whatever the user said (`bench/decision_fit.py` reports how
many value tokens it gets right). The context is full of copying: a tool result repeats the
searched city and cuisine in every row, and users repeat the names the assistant offered. Predicting
those tokens is what teaches attention to look back and copy, and it costs little: the decoder
already runs over them; only the LM head runs at more positions.

With `FinetuneConfig.context_weight = c > 0`, every token after the system message that is not
supervised (user text, tool results, turn headers) is also predicted, its loss weighted c. The
system message (the same task description and schemas in every conversation) is left out. The
labels stay as they are: the pre-flight mask check, the supervised-token count that normalises the
loss, and evaluation still see only the assistant calls, so c adds a term of its own to the loss
(c × context tokens per supervised token × their mean loss) and c = 0 is the plain SFT loss.
"""

from __future__ import annotations

from typing import Any

from agent.render import IGNORE_INDEX, TrainingTokens

END = "<|im_end|>"


def context_mask(tokens: TrainingTokens) -> list[bool]:
    """True for tokens after the system message that are not supervised."""
    first_end = tokens.text.find(END)
    start = len(tokens.text) if first_end == -1 else first_end + len(END)
    return [
        label == IGNORE_INDEX and begin >= start and end > begin
        for label, (begin, end) in zip(tokens.labels, tokens.offsets, strict=True)
    ]


def context_weights(tokens: TrainingTokens, weight: float) -> list[float]:
    """`weight` on context tokens, 0 elsewhere (supervised tokens keep their own loss weights)."""
    return [weight if on else 0.0 for on in context_mask(tokens)]


def loss_targets(inputs: dict[str, Any], start: int):
    """(targets, weights) for the positions from `start` on, for the token loss of a batch.

    targets: the labels, plus the input token itself at context positions (`context_weights` > 0);
    weights: None when the batch has neither `loss_weights` nor `context_weights`, else one weight per
    target (`loss_weights` or 1 at supervised positions, the context weight at context positions)."""
    import torch

    labels = inputs["labels"][:, start:]
    weights = inputs.get("loss_weights")
    weights = None if weights is None else weights[:, start:]
    context = inputs.get("context_weights")
    if context is None:
        return labels, weights
    context = context[:, start:]
    on = (labels == IGNORE_INDEX) & (context > 0)
    targets = torch.where(on, inputs["input_ids"][:, start:], labels)
    base = torch.ones_like(context) if weights is None else weights
    return targets, torch.where(on, context, base)
