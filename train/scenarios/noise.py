"""S2 — noisy labels: assistant calls corrupted, user messages and tool results never changed.

Rules inferred from the published file (327 traces aligned with S1 message by message):
- 10% of traces (33 of 327) are kept clean; in the others each assistant call is corrupted with
  probability 0.49 (≈44% of all calls overall, 1,443 of 3,277).
- A corrupted respond_to_user becomes, half the time, respond_to_user with a system utterance of a
  Hotels_1 dialogue (≈40% of corruptions), else a service call (Find/Reserve evenly) copied from
  another S1 dialogue (≈40%).
- A corrupted service call (≈20% of corruptions) is, in equal thirds: the other service function
  with the same arguments (Find ↔ Reserve), the same function with another dialogue's arguments,
  or respond_to_user with another dialogue's system utterance.
"""

from __future__ import annotations

import random

from agent.conversation import ToolCall
from agent.trace_io import Trace
from train.scenarios.common import Pools, assistant_indices, call_of, copy_trace, set_call
from train.sgd_traces import dialogue_to_trace, service_calls, system_utterances

CLEAN_FRACTION = 0.10
CALL_CORRUPTION_P = 0.49
SWAP = {"FindRestaurants": "ReserveRestaurant", "ReserveRestaurant": "FindRestaurants"}


def _other(rng: random.Random, pools_by_dialogue: list[list], k: int, accept=lambda x: True):
    """A random item from a different dialogue than k (the pools' items, filtered by `accept`)."""
    while True:
        j = rng.randrange(len(pools_by_dialogue))
        choices = [x for x in pools_by_dialogue[j] if accept(x)]
        if j != k and choices:
            return rng.choice(choices)


def build_s2(pools: Pools, seed: int, n: int | None = None) -> list[Trace]:
    rng = random.Random(seed)
    dialogues = pools.s1_train[: n or len(pools.s1_train)]
    hotel_lines = system_utterances(pools.single_domain("Hotels_1", ("train", "dev")))
    own_calls = [service_calls([d]) for d in dialogues]
    own_lines = [system_utterances([d]) for d in dialogues]
    clean = set(rng.sample(range(len(dialogues)), round(CLEAN_FRACTION * len(dialogues))))
    out = []
    for k, dialogue in enumerate(dialogues):
        trace = copy_trace(dialogue_to_trace(dialogue), scenario="s2", clean=k in clean)
        if k in clean:
            out.append(trace)
            continue

        corrupted = 0
        for i in assistant_indices(trace.messages):
            if rng.random() >= CALL_CORRUPTION_P:
                continue
            call = call_of(trace.messages[i])
            if call.name == "respond_to_user":
                if rng.random() < 0.5:
                    new = ToolCall("respond_to_user", {"message": rng.choice(hotel_lines)})
                else:
                    name = rng.choice(list(SWAP))
                    new = _other(rng, own_calls, k, lambda c, name=name: c.name == name)
            else:
                kind = rng.randrange(3)
                if kind == 0:
                    new = ToolCall(SWAP.get(call.name, call.name), call.arguments)
                elif kind == 1:
                    new = _other(rng, own_calls, k, lambda c, name=call.name: c.name == name)
                else:
                    new = ToolCall("respond_to_user", {"message": _other(rng, own_lines, k)})
            set_call(trace.messages[i], ToolCall(new.name, dict(new.arguments)))
            corrupted += 1
        trace.meta["corrupted_calls"] = corrupted
        out.append(trace)
    return out
