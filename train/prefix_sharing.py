"""Shared-prefix batches: encode the tokens every conversation in a batch starts with once.

Every training conversation starts with the same system prompt (task description + tool
schemas): about half of a rendered S1 conversation. A plain batch of B conversations runs that
prefix through the model B times. Here the batch's longest common token prefix runs once (batch
size 1), its key/value cache is repeated B times, and only the B continuations run on top of it.
Gradients flow back through the repeated cache into the single prefix pass, so the loss and the
gradients are those of the plain batch (`tests/train/test_prefix_sharing.py` checks both) at a
fraction of the compute. The LM head, too, runs only where a label is supervised (the assistant
calls, ~16% of the tokens; plus the context tokens when `context_weight` > 0) instead of at every
position.

Used by `train.trainer.ConversationTrainer` when `FinetuneConfig.share_prefix` is on (the default).
It falls back to the plain forward when the batch has one row, when the prefix is too short to be
worth it, or under gradient checkpointing (which cannot keep a KV cache).
"""

from __future__ import annotations

from typing import Any

from agent.render import IGNORE_INDEX
from train.context_tokens import loss_targets
from train.dataset import PadCollator
from train.slot_state import state_loss, tag_logits

MIN_SHARED_PREFIX = 16  # below this the extra pass costs more than it saves


def shared_prefix_length(rows: list[list[int]], labels: list[list[int]]) -> int:
    """Length of the prefix all rows share that may run once: the rows' common token prefix, cut
    so that every supervised token is predicted from a position after it (a supervised label at
    index s is predicted by the hidden state at s - 1, which must be in the continuation)."""
    if not rows:
        return 0
    common = min(len(r) for r in rows)
    first = rows[0]
    for row in rows[1:]:
        k = 0
        while k < common and row[k] == first[k]:
            k += 1
        common = k
    for lab in labels:
        supervised = next((i for i, x in enumerate(lab) if x != IGNORE_INDEX), len(lab))
        common = min(common, supervised - 1)
    # the continuation must keep at least one token per row
    common = min(common, min(len(r) for r in rows) - 1)
    return max(common, 0)


class PrefixSharingCollator(PadCollator):
    """PadCollator that also tells the trainer how many leading tokens the batch shares."""

    def __call__(self, batch: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        out = super().__call__(batch)
        # context tokens (train.context_tokens) are predicted too: the prefix must end before them
        predicted = [
            [lab if c <= 0 else 0 for lab, c in zip(b["labels"], b["context_weights"], strict=True)]
            if "context_weights" in b
            else b["labels"]
            for b in batch
        ]
        prefix = shared_prefix_length([b["input_ids"] for b in batch], predicted)
        # slot-state targets (train.slot_state) need the hidden state of their own token
        tagged = [pos for b in batch for pos, _ in b.get("state_targets") or []]
        if tagged:
            prefix = min(prefix, min(tagged))
        out["shared_prefix"] = torch.tensor(prefix if len(batch) > 1 else 0)
        return out


def prefix_shared_loss(model: Any, inputs: dict[str, Any], prefix: int, num_items: Any = None, state: Any = None):
    """Causal-LM loss of a right-padded batch whose first `prefix` tokens are the same in every row.

    Returns the summed token loss (each token times its `loss_weights` entry when the batch has
    them; plus the context tokens when it has `context_weights`, train.context_tokens) divided by
    `num_items` (the supervised tokens of the whole accumulated batch, as the Trainer counts them)
    or by this batch's supervised tokens. With `state` = (tag ids, weight) and `state_targets` in the
    batch, the slot-state term (train.slot_state) is added to the sum."""
    import torch
    from transformers import DynamicCache

    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    rows = ids.shape[0]
    decoder = model.get_decoder()
    head = model.get_output_embeddings()
    cache = DynamicCache(config=model.config)
    decoder(input_ids=ids[:1, :prefix], cache=cache, use_cache=True)
    cache.batch_repeat_interleave(rows)
    out = decoder(
        input_ids=ids[:, prefix:],
        attention_mask=mask,  # covers prefix + continuation
        cache=cache,
        use_cache=True,
    )
    hidden = out.last_hidden_state  # [rows, T - prefix, H]; position j predicts token prefix + j + 1
    extra = 0.0
    if state is not None and inputs.get("state_targets") is not None:
        tag_ids, weight = state
        extra = weight * state_loss(tag_logits(hidden, head, tag_ids), inputs["state_targets"][:, prefix:])
    targets, weights = loss_targets(inputs, prefix + 1)
    hidden = hidden[:, : targets.shape[1]]
    keep = targets != IGNORE_INDEX
    logits = head(hidden[keep]).float()
    if weights is None:
        loss = torch.nn.functional.cross_entropy(logits, targets[keep], reduction="sum")
    else:
        per_token = torch.nn.functional.cross_entropy(logits, targets[keep], reduction="none")
        loss = (per_token * weights[keep].to(per_token.dtype)).sum()
    loss = loss + extra
    # normalised by the supervised tokens (context tokens add to the sum, not to the count)
    supervised = (inputs["labels"][:, prefix + 1 :] != IGNORE_INDEX).sum().clamp(min=1)
    denom = num_items if num_items is not None else supervised
    if isinstance(denom, torch.Tensor):
        denom = denom.to(loss.device)
    return loss / denom
