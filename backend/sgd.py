"""Reading the Restaurants_1 service calls out of SGD's dialogue files.

SGD lays out `sgd/{train,dev,test}/dialogues_NNN.json`; every system frame of the
`Restaurants_1` service that carries a `service_call` is one call with the results SGD's
simulated backend returned. Both the database builder and the replay-fidelity benchmark read
calls through `iter_calls`, in one fixed order (split, file name, dialogue, turn), which is what
makes "first seen" tie-breaks in the builder deterministic.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from backend.errors import UserError

SERVICE = "Restaurants_1"
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class SgdCall:
    """One Restaurants_1 service call as SGD recorded it."""

    dialogue_id: str
    turn: int
    method: str  # FindRestaurants | ReserveRestaurant
    parameters: dict[str, str]
    results: list[dict[str, str]]
    acts: tuple[str, ...] = field(default=())  # the system's dialogue acts in that frame

    @property
    def outcome(self) -> str:
        """For ReserveRestaurant: `success`, `alternative` (failed, SGD returned another slot)
        or `failure` (failed, nothing returned). SGD marks success with NOTIFY_SUCCESS."""
        if "NOTIFY_SUCCESS" in self.acts:
            return "success"
        return "alternative" if self.results else "failure"


def dialogue_files(sgd_dir: Path) -> list[Path]:
    """Every dialogue file of the splits present, in a fixed order."""
    if not sgd_dir.is_dir():
        raise UserError(f"SGD directory {sgd_dir} does not exist (set RESTO_DATA_DIR or pass --data-dir).")
    files = [p for split in SPLITS for p in sorted((sgd_dir / split).glob("dialogues_*.json"))]
    if not files:
        raise UserError(f"No SGD dialogue files (sgd/{{train,dev,test}}/dialogues_*.json) under {sgd_dir}.")
    return files


def iter_calls(sgd_dir: Path) -> Iterator[SgdCall]:
    """Every Restaurants_1 service call of every dialogue file, in file order."""
    for path in dialogue_files(sgd_dir):
        try:
            dialogues = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"Cannot read SGD file {path}: {exc}") from exc
        for dialogue in dialogues:
            if SERVICE not in dialogue.get("services", ()):
                continue
            for index, turn in enumerate(dialogue.get("turns", ())):
                for frame in turn.get("frames", ()):
                    if frame.get("service") != SERVICE or "service_call" not in frame:
                        continue
                    call = frame["service_call"]
                    yield SgdCall(
                        dialogue_id=dialogue["dialogue_id"],
                        turn=index,
                        method=call["method"],
                        parameters=dict(call.get("parameters", {})),
                        results=list(frame.get("service_results", [])),
                        acts=tuple(a["act"] for a in frame.get("actions", ())),
                    )

