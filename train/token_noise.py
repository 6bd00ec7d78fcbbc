"""Context-token noise: a regulariser that makes the model read what the user said, not recall it.

Why: the demo model is trained from scratch on 327 conversations. It fits its training decisions
(FindRestaurants now, or ask for the missing city or cuisine?) better than held-out ones, because it
can key them on the exact words of conversations it has seen (`bench/decision_fit.py`: 97.6% of
training decisions vs 95.2% held out; given more epochs, 99.8% vs 89.9%). Held-out users name
cuisines and cities the model never saw. Word dropout is the classic cure for a small-data sequence
model: each time a conversation is seen, some of its input words are replaced, so no single word
can carry a decision and the model has to use the rest of the turn (and of the history).

With `FinetuneConfig.context_noise = p`, every token of user text and tool results (the content of
user messages as the template renders them; not the system message, not the turn headers, not the
special tokens) is replaced with probability p by a random token of the vocabulary. The assistant
calls are never changed: they are both the labels and, for later turns, the history the model reads,
so the labels, the pre-flight mask check and the supervised-token count are exactly those without
noise. Evaluation and inference see clean text.

The noise is a pure function of (seed, epoch, example index), so each epoch sees different noise
and an interrupted run resumes with the noise it would have seen (`NoisyDataset.epoch` is set by
`epoch_callback` when the Trainer starts or resumes an epoch).
"""

from __future__ import annotations

import random
from typing import Any

from agent.render import IGNORE_INDEX, TrainingTokens
from train.dataset import Example, TokenizedDataset

USER_HEADER = "<|im_start|>user\n"
END = "<|im_end|>"


def user_content_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of every user message's content in a rendered conversation."""
    spans = []
    start = text.find(USER_HEADER)
    while start != -1:
        begin = start + len(USER_HEADER)
        end = text.find(END, begin)
        end = len(text) if end == -1 else end
        spans.append((begin, end))
        start = text.find(USER_HEADER, end)
    return spans


def noise_mask(tokens: TrainingTokens, special_ids: set[int]) -> list[bool]:
    """True for the tokens that may be replaced: inside a user message's content, not supervised,
    not a special token."""
    spans = user_content_spans(tokens.text)
    out = []
    k = 0  # spans and offsets both run left to right
    for tok, label, (begin, end) in zip(tokens.input_ids, tokens.labels, tokens.offsets, strict=True):
        while k < len(spans) and spans[k][1] <= begin:
            k += 1
        inside = k < len(spans) and spans[k][0] <= begin and end <= spans[k][1] and end > begin
        out.append(inside and label == IGNORE_INDEX and tok not in special_ids)
    return out


def replacement_ids(tokenizer: Any) -> list[int]:
    """The ids noise draws from: every token but the special ones."""
    special = set(tokenizer.all_special_ids)
    return [i for i in range(len(tokenizer)) if i not in special]


def add_noise(ids: list[int], mask: list[bool], rate: float, vocab: list[int], rng: random.Random) -> list[int]:
    """A copy of `ids` with each masked position replaced by a random `vocab` id with probability `rate`."""
    return [rng.choice(vocab) if on and rng.random() < rate else tok for tok, on in zip(ids, mask, strict=True)]


class NoisyDataset(TokenizedDataset):
    """TokenizedDataset whose examples' `noise` positions are replaced afresh each epoch."""

    def __init__(self, examples: list[Example], rate: float, vocab: list[int], seed: int = 0):
        super().__init__(examples)
        self.rate, self.vocab, self.seed = rate, vocab, seed
        self.epoch = 0

    def __getitem__(self, i: int) -> dict[str, list]:
        item = super().__getitem__(i)
        ex = self.examples[i]
        if ex.noise is not None and self.rate > 0:
            # a string seed is hashed with SHA-512: the same noise in every process and on resume
            rng = random.Random(f"{self.seed}:{self.epoch}:{i}")
            item["input_ids"] = add_noise(ex.input_ids, ex.noise, self.rate, self.vocab, rng)
        return item


def epoch_callback(dataset: NoisyDataset):
    """A TrainerCallback that tells the dataset which epoch the Trainer is in (also on resume)."""
    from transformers import TrainerCallback

    class NoiseEpoch(TrainerCallback):
        def on_epoch_begin(self, args, state, control, **kwargs):
            dataset.epoch = int(state.epoch or 0)

    return NoiseEpoch()
