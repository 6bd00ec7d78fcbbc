"""The TFT benchmark's five training scenarios, regenerated from SGD with any seed and size.

    from train.scenarios import build_scenario
    traces = build_scenario("s2", sgd_dir, seed=0)

- s1 — baseline: the 327 clean S1 traces (exactly the published file, whatever the seed).
- s2 — noisy labels (`noise.py`), s3 — schema drift (`drift.py`), s5 — trace mixing (`mixing.py`).
- s4 — low data: 5 clean S1 traces drawn at random.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from agent.trace_io import Trace
from train.scenarios.common import Pools, copy_trace
from train.scenarios.drift import build_s3
from train.scenarios.mixing import build_s5
from train.scenarios.noise import build_s2
from train.sgd_traces import dialogue_to_trace

S4_SIZE = 5
PUBLISHED_DIRS = {
    "s1": "scenario-1-baseline",
    "s2": "scenario-2-noisy-labels",
    "s3": "scenario-3-schema-drift",
    "s4": "scenario-4-low-data",
    "s5": "scenario-5-trace-mixing",
}


def build_s1(pools: Pools, seed: int, n: int | None = None) -> list[Trace]:
    # The published order; `seed` does not change S1 (it is the clean reference).
    return [copy_trace(dialogue_to_trace(d), scenario="s1") for d in pools.s1_train[: n or len(pools.s1_train)]]


def build_s4(pools: Pools, seed: int, n: int | None = None) -> list[Trace]:
    chosen = random.Random(seed).sample(pools.s1_train, n or S4_SIZE)
    return [copy_trace(dialogue_to_trace(d), scenario="s4") for d in chosen]


BUILDERS: dict[str, Callable[[Pools, int, int | None], list[Trace]]] = {
    "s1": build_s1,
    "s2": build_s2,
    "s3": build_s3,
    "s4": build_s4,
    "s5": build_s5,
}


def build_scenario(name: str, sgd_dir: str | Path | Pools, seed: int = 0, n: int | None = None) -> list[Trace]:
    """Traces of scenario `name` (s1..s5); `n` overrides the published size."""
    if name not in BUILDERS:
        raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(BUILDERS)}")
    pools = sgd_dir if isinstance(sgd_dir, Pools) else Pools.load(sgd_dir)
    return BUILDERS[name](pools, seed, n)
