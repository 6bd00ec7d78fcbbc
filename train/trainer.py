"""The Trainer that trains on whole conversations: shared-prefix batches and per-token loss weights.

`train.finetune` trains with `conversation_trainer_class()`. Batches can share their prefix
(`train.prefix_sharing`) and carry loss weights (`train.decision_tokens`) or context weights
(`train.context_tokens`); a batch with none of these gets the Trainer's own loss. It only overrides
`compute_loss`, so checkpoints, exact resume, accumulation, schedulers and `accelerate launch` stay
the Trainer's own.

A batch may also carry `state_targets` (train.slot_state): the slot-state term is then added on
whichever of the two paths below runs.

Which loss runs:
- shared prefix (batch of several rows, prefix ≥ MIN_SHARED_PREFIX, training, one process, no
  activation checkpointing): `prefix_shared_loss`, weighted when the batch has `loss_weights`,
  with the context term when it has `context_weights`;
- otherwise, with either: the model's forward for logits, then the weighted token loss;
- otherwise: the Trainer's own loss.
Every path divides by the supervised tokens of the accumulated batch, as the Trainer does, so the
logged loss of a weighted run is the weighted loss per supervised token.
"""

from __future__ import annotations

from typing import Any

from agent.render import IGNORE_INDEX
from train.context_tokens import loss_targets
from train.prefix_sharing import MIN_SHARED_PREFIX, prefix_shared_loss
from train.slot_state import state_loss


def weighted_loss(model: Any, inputs: dict[str, Any], num_items: Any = None, state: Any = None):
    """Causal-LM loss with per-token weights (and context tokens, train.context_tokens; and the
    slot-state term, train.slot_state, with `state` = (tag ids, weight)) through the model's own
    forward (any wrapper)."""
    import torch

    logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
    targets, w = loss_targets(inputs, 1)
    if w is None:
        w = torch.ones(targets.shape, device=targets.device)
    keep = targets != IGNORE_INDEX
    per_token = torch.nn.functional.cross_entropy(logits[:, :-1][keep].float(), targets[keep], reduction="none")
    loss = (per_token * w[keep].to(per_token.dtype)).sum()
    if state is not None and inputs.get("state_targets") is not None:
        tag_ids, weight = state
        loss = loss + weight * state_loss(logits[..., tag_ids], inputs["state_targets"])
    # normalised by the supervised tokens (context tokens add to the sum, not to the count)
    denom = num_items if num_items is not None else (inputs["labels"][:, 1:] != IGNORE_INDEX).sum().clamp(min=1)
    if isinstance(denom, torch.Tensor):
        denom = denom.to(loss.device)
    return loss / denom


def conversation_trainer_class():
    """A `transformers.Trainer` subclass with the shared-prefix and weighted losses."""
    from transformers import Trainer

    class ConversationTrainer(Trainer):
        # the slot-state term (train.slot_state): (tag token ids, weight), set by train.finetune
        state_loss: tuple[Any, float] | None = None

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            prefix = int(inputs.pop("shared_prefix", 0))
            weights = inputs.pop("loss_weights", None)
            context = inputs.pop("context_weights", None)
            state_targets = inputs.pop("state_targets", None)
            checkpointing = getattr(self.accelerator.unwrap_model(model), "is_activation_checkpointing", False)
            # DDP/FSDP synchronise gradients inside the wrapped module's forward, which this path bypasses
            distributed = self.accelerator.num_processes > 1
            if return_outputs or not model.training:
                # evaluation: the Trainer's own (unweighted) loss and outputs
                self.loss_is_scaled_for_ga = None
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            state = self.state_loss if state_targets is not None else None
            pairs = (
                ("loss_weights", weights),
                ("context_weights", context),
                ("state_targets", state_targets if state else None),  # dropped when the run has no state term
            )
            extra = {k: v for k, v in pairs if v is not None}
            inputs = {**inputs, **extra}
            if prefix >= MIN_SHARED_PREFIX and not checkpointing and not distributed:
                # this path calls the decoder and head directly, past the autocast accelerate wraps around forward
                with self.accelerator.autocast():
                    loss = prefix_shared_loss(
                        self.accelerator.unwrap_model(model), inputs, prefix, num_items_in_batch, state=state
                    )
            elif extra:
                loss = weighted_loss(model, inputs, num_items_in_batch, state)
            else:
                self.loss_is_scaled_for_ga = None  # the Trainer's own rule for its own loss
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            # normalised by the accumulated batch's token count: already scaled for accumulation
            self.loss_is_scaled_for_ga = num_items_in_batch is not None
            return loss

    return ConversationTrainer
