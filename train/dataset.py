"""Conversations → token ids and labels for training, with the loss only on assistant calls.

One example per conversation: `agent.render.render_training_example` renders the whole
conversation with the inference template and labels every assistant turn's tool call (and its
<|im_end|>), so a single forward pass supervises all turns. `expand_per_turn` builds the older
alternative (one example per assistant turn, prefix + that turn's call) for the throughput bench.

`build_examples` is the pre-flight check: a conversation whose mask is empty or covers user /
tool-result tokens raises `MaskError` (the run fails before any training); conversations longer
than `max_length` are dropped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.render import IGNORE_INDEX, MaskError, RenderConfig, check_mask, render_training_tokens
from agent.trace_io import Trace
from train.context_tokens import context_weights
from train.decision_tokens import loss_weights
from train.slot_state import META_KEY, dense_targets, state_targets


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]
    weights: list[float] | None = None  # per-token loss weights (train.decision_tokens); None = all 1
    context: list[float] | None = None  # loss weights of context tokens (train.context_tokens); None = none
    noise: list[bool] | None = None  # positions context noise may replace (train.token_noise); None = none
    state: list[tuple[int, int]] | None = None  # (position, tag bitmask) targets (train.slot_state); None = none

    @property
    def supervised(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE_INDEX)


@dataclass
class DatasetReport:
    examples: int = 0
    tokens: int = 0
    supervised_tokens: int = 0
    too_long: list[int] = field(default_factory=list)  # indices of dropped conversations
    longest: int = 0

    def summary(self) -> str:
        text = f"{self.examples} examples, {self.tokens} tokens, {self.supervised_tokens} supervised"
        if self.too_long:
            text += f"; {len(self.too_long)} conversations longer than max_length dropped"
        return text


def build_examples(
    tokenizer: Any,
    traces: list[Trace],
    tools: list[dict] | None,
    render: RenderConfig | None = None,
    max_length: int = 8192,
    decision_weight: float = 1.0,
    context_weight: float = 0.0,
    context_noise: bool = False,
    slot_state: bool = False,
) -> tuple[list[Example], DatasetReport]:
    """Tokenize whole conversations; raises MaskError naming the conversation on a bad mask.
    `decision_weight` != 1 adds per-token loss weights on function names and argument keys;
    `context_weight` > 0 adds the auxiliary loss on user and tool-result tokens; `context_noise` marks
    the user and tool-result tokens that `train.token_noise` may replace; `slot_state` adds the tag
    targets of traces annotated by `train.slot_state.attach_slot_state`."""
    from train.token_noise import noise_mask

    render = render or RenderConfig()
    special = set(tokenizer.all_special_ids) if context_noise else set()
    report = DatasetReport()
    out: list[Example] = []
    for i, trace in enumerate(traces):
        try:
            tokens = render_training_tokens(tokenizer, trace.messages, tools, render)
        except MaskError as exc:
            raise MaskError(f"conversation {i} (line {trace.meta.get('line', '?')}): {exc}") from None
        ids = tokens.input_ids
        report.longest = max(report.longest, len(ids))
        if len(ids) > max_length:
            report.too_long.append(i)
            continue
        weights = loss_weights(tokens, decision_weight) if decision_weight != 1.0 else None
        context = context_weights(tokens, context_weight) if context_weight > 0 else None
        noise = noise_mask(tokens, special) if context_noise else None
        state = state_targets(tokens, trace.meta.get(META_KEY)) if slot_state else None
        ex = Example(ids, tokens.labels, weights, context, noise, state or None)
        out.append(ex)
        report.tokens += len(ids)
        report.supervised_tokens += ex.supervised
    report.examples = len(out)
    return out, report


def preflight(tokenizer: Any, examples: list[Example]) -> None:
    """Re-check every example's mask (cheap); MaskError stops the run before training."""
    if not examples:
        raise MaskError("no training examples (every conversation was dropped or the input is empty)")
    for i, ex in enumerate(examples):
        try:
            check_mask(tokenizer, ex.input_ids, ex.labels)
        except MaskError as exc:
            raise MaskError(f"example {i}: {exc}") from None


def expand_per_turn(examples: list[Example]) -> list[Example]:
    """Per-turn examples with the same supervised tokens: for each assistant span, the prefix up to
    the end of that span with only that span labelled."""
    out = []
    for ex in examples:
        spans, start = [], None
        for k, lab in enumerate(ex.labels + [IGNORE_INDEX]):
            if lab != IGNORE_INDEX and start is None:
                start = k
            elif lab == IGNORE_INDEX and start is not None:
                spans.append((start, k))
                start = None
        for s, e in spans:
            labels = [IGNORE_INDEX] * e
            labels[s:e] = ex.labels[s:e]
            out.append(
                Example(
                    ex.input_ids[:e],
                    labels,
                    ex.weights[:e] if ex.weights else None,
                    ex.context[:e] if ex.context else None,
                    ex.noise[:e] if ex.noise else None,
                    [(p, m) for p, m in ex.state if p < e] if ex.state else None,
                )
            )
    return out


class TokenizedDataset:
    """A map-style dataset for `transformers.Trainer`."""

    def __init__(self, examples: list[Example]):
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict[str, list]:
        ex = self.examples[i]
        item: dict[str, list] = {"input_ids": ex.input_ids, "labels": ex.labels}
        if ex.weights is not None:
            item["loss_weights"] = ex.weights
        if ex.context is not None:
            item["context_weights"] = ex.context
        if ex.state is not None:
            item["state_targets"] = ex.state
        return item


class PadCollator:
    """Right-pads a batch: input ids with the pad id, labels with -100, attention mask 0, and loss
    and context weights (when the examples carry them) with 0; slot-state targets (train.slot_state)
    become a dense [rows, width, tags] tensor, -1 where a token has none."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, batch: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        weighted = any("loss_weights" in b for b in batch)
        weights = torch.zeros((len(batch), width)) if weighted else None
        with_context = any("context_weights" in b for b in batch)
        context = torch.zeros((len(batch), width)) if with_context else None
        for r, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[r, :n] = torch.tensor(b["input_ids"])
            labels[r, :n] = torch.tensor(b["labels"])
            mask[r, :n] = 1
            if weights is not None:
                weights[r, :n] = torch.tensor(b["loss_weights"]) if "loss_weights" in b else 1.0
            if context is not None and "context_weights" in b:
                context[r, :n] = torch.tensor(b["context_weights"])
        out = {"input_ids": ids, "labels": labels, "attention_mask": mask}
        if weights is not None:
            out["loss_weights"] = weights
        if context is not None:
            out["context_weights"] = context
        if any("state_targets" in b for b in batch):
            out["state_targets"] = dense_targets([b.get("state_targets") for b in batch], width)
        return out
