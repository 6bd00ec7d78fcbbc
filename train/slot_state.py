"""An auxiliary loss that teaches the model SGD's dialogue-state annotations: which words of a user
message are a city, a cuisine, a time…, and which slots the conversation has filled after it.

Why: the demo model's errors on held-out conversations are mostly decisions, not format: it answers
`respond_to_user` ("What kind of food?") where the reference searches, because it has not noticed
that the user already gave the cuisine ("I would prefer if it was To-go") or the city ("I am
searching for a place to eat at San Fran."). The assistant calls (the only supervised tokens) teach
slot tracking through one function name per turn. SGD annotates every user turn with the character
spans of its slot values and with the dialogue state after it, so each user token can carry a
target of its own: far denser supervision of exactly what the decisions depend on.

How (no new module, the artifact stays a plain causal LM): the tokenizer gets one special token per
tag (`TAGS`: the Restaurants_1 slots and its two intents) and the LM head's rows for those tokens
act as a multi-label tagger on the final hidden states:
- every token of a user message: the slots whose annotated span overlaps the token (all 0 outside
  spans);
- the `<|im_end|>` that closes a user message: the slots in the dialogue state after that turn, and
  the active intent.
The term is binary cross-entropy averaged over the tags, summed over tagged tokens, weighted by
`FinetuneConfig.state_weight` and divided by the supervised-token count like the main loss. Labels,
the mask check and evaluation are unchanged; inference never feeds or needs the tag tokens.

The annotations come from the SGD dialogues a trace was converted from (`attach_slot_state`, by the
trace's `dialogue_id` and `split`); a trace without them (a logged session, an entity-swapped copy
whose text no longer matches) simply has no tag targets.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agent.render import TrainingTokens
from agent.trace_io import Trace
from train.sgd_traces import iter_dialogues

SLOTS = (
    "city", "cuisine", "restaurant_name", "date", "time", "party_size", "price_range",
    "serves_alcohol", "has_live_music", "phone_number", "street_address",
)
INTENTS = ("FindRestaurants", "ReserveRestaurant")
TAGS = SLOTS + INTENTS
META_KEY = "slot_state"
USER_OPEN, TURN_END = "<|im_start|>user\n", "<|im_end|>"


def tag_token(tag: str) -> str:
    return f"<|tag:{tag}|>"


def ensure_tag_tokens(tokenizer: Any) -> list[int]:
    """Add the tag tokens to `tokenizer` if it lacks them; their ids in `TAGS` order."""
    tokens = [tag_token(t) for t in TAGS]
    missing = [t for t in tokens if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing}, replace_extra_special_tokens=False)
    return tokenizer.convert_tokens_to_ids(tokens)


def user_turn_annotations(turns: list[dict[str, Any]], service: str = "Restaurants_1") -> list[dict[str, Any]]:
    """Per USER turn: its text, the (start, end, tag index) spans of its slot values and the tag
    indices of the dialogue state after it (filled slots + active intent), from `service`'s frame."""
    out = []
    for turn in turns:
        if turn["speaker"] != "USER":
            continue
        frame = next((f for f in turn.get("frames", []) if f.get("service") == service), None)
        spans, state = [], []
        if frame is not None:
            spans = [
                [s["start"], s["exclusive_end"], TAGS.index(s["slot"])]
                for s in frame.get("slots", [])
                if s.get("slot") in TAGS and "start" in s
            ]
            st = frame.get("state", {})
            state = sorted({TAGS.index(k) for k in st.get("slot_values", {}) if k in TAGS})
            if st.get("active_intent") in INTENTS:
                state.append(TAGS.index(st["active_intent"]))
        out.append({"text": turn["utterance"], "spans": spans, "state": state})
    return out


def attach_slot_state(traces: Iterable[Trace], sgd_dir: str | Path) -> int:
    """Store each SGD-converted trace's user-turn annotations in `trace.meta[META_KEY]`; returns how
    many traces got them (traces of other origins are left alone)."""
    traces = list(traces)
    wanted: dict[tuple[str, str], list[Trace]] = {}
    for t in traces:
        if "dialogue_id" in t.meta and "split" in t.meta:
            wanted.setdefault((t.meta["split"], t.meta["dialogue_id"]), []).append(t)
    found = 0
    for split in sorted({s for s, _ in wanted}):
        for d in iter_dialogues(sgd_dir, split):
            for t in wanted.get((split, d.dialogue_id), []):
                t.meta[META_KEY] = user_turn_annotations(d.turns)
                found += 1
    return found


def state_targets(tokens: TrainingTokens, annotations: list[dict[str, Any]] | None) -> list[tuple[int, int]]:
    """(token position, tag bitmask) for every tagged token of a rendered conversation.

    Each annotated user message is found in order as `<|im_start|>user\\n{text}<|im_end|>`; a message
    that is not found (the text was changed) is skipped."""
    if not annotations:
        return []
    # wanted: character regions in order, (start, end, state bitmask, None) for a turn's <|im_end|> and
    # (start, end, None, slot spans) for a message's text
    text, cursor, wanted = tokens.text, 0, []
    for ann in annotations:
        at = text.find(USER_OPEN + ann["text"] + TURN_END, cursor)
        if at == -1:
            continue
        c0 = at + len(USER_OPEN)
        c1 = c0 + len(ann["text"])
        wanted.append((c0, c1, None, ann["spans"]))
        wanted.append((c1, c1 + len(TURN_END), sum(1 << i for i in ann["state"]), None))
        cursor = c1
    out: list[tuple[int, int]] = []
    k = 0
    for pos, (b, e) in enumerate(tokens.offsets):
        while k < len(wanted) and wanted[k][1] <= b:
            k += 1
        if k == len(wanted):
            break
        c0, c1, mask, spans = wanted[k]
        if e <= b or not (c0 <= b and e <= c1):
            continue
        if mask is None:  # a token of the message: the slots whose span it overlaps
            mask = sum(1 << tag for s, x, tag in spans if c0 + s < e and b < c0 + x)
        out.append((pos, mask))
    return out


def dense_targets(batch_targets: list[list[tuple[int, int]] | None], width: int):
    """[rows, width, len(TAGS)] float targets; -1 where a token has none."""
    import torch

    out = torch.full((len(batch_targets), width, len(TAGS)), -1.0)
    bits = torch.tensor([1 << i for i in range(len(TAGS))])
    for r, targets in enumerate(batch_targets):
        for pos, mask in targets or []:
            out[r, pos] = ((mask & bits) > 0).float()
    return out


def state_loss(tag_logits: Any, targets: Any):
    """Summed over tagged tokens, mean over tags: BCE of `tag_logits` ([..., K], the LM head's tag
    rows) against `targets` ([..., K], -1 = untagged)."""
    import torch

    keep = targets[..., 0] >= 0
    logits = tag_logits[keep].float()
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, targets[keep], reduction="none").mean(-1).sum()


def tag_logits(hidden: Any, head: Any, tag_ids: Any):
    """The LM head's logits of the tag tokens only (Qwen3's head has no bias): [..., K]."""
    import torch

    return torch.nn.functional.linear(hidden, head.weight[tag_ids])
