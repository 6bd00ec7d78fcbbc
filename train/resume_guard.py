"""Resume a run directory only with the run that made it.

`train.finetune` resumes from the last checkpoint in its run directory. The Trainer restores
weights, optimizer, scheduler and data position from it without asking whether the checkpoint
came from the same training: rerun `resto train direct` with another learning rate, model or
traces file but the same `--run-dir`, and it used to continue the old run under the new
settings, silently mixing the two. This module records what a run is and refuses the mix:

    previous = read_record(run_dir)            # before finetune overwrites config.json / data.json
    check_resume(run_dir, config, fingerprint, previous)   # raises ResumeMismatch on a mix

What makes a run: every FinetuneConfig field except those in `MAY_CHANGE` (bookkeeping that a
resumed run may legitimately change: `max_steps` grows under the demo's time budget, the
demo's calibration may pick another precision, progress and logging), and the data itself:
`data_fingerprint` hashes the tokenized conversations (token ids and loss mask), so another
traces file, template, tool list or tokenizer is a different run too.

A model inside the run directory (the demo builds its random init in `<run_dir>/base`) is compared
by its place in the run directory, not by its absolute path, so a run whose directory moved (another
`RESTO_HOME`) still resumes.

The error says what differs and the three ways on: another run directory, `resume: false`
(start afresh in the same directory), or deleting its `checkpoints/`.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from pathlib import Path
from typing import Any

from backend.errors import UserError
from train.config import FinetuneConfig

CONFIG_FILE, DATA_FILE = "config.json", "data.json"
FINGERPRINT_KEY = "fingerprint"
# Fields a resumed run may change without becoming another run: bookkeeping, the step bound (the
# demo's time budget extends it from the checkpoint's step) and bf16 autocast (the demo calibrates
# precision afresh each time; the checkpoint's weights and optimizer state are fp32 either way).
MAY_CHANGE = frozenset(
    {"max_steps", "bf16", "resume", "merge", "progress", "save_steps", "save_total_limit", "logging_steps"}
)


class ResumeMismatch(UserError):
    """The run directory holds checkpoints of a different run."""


def data_fingerprint(examples: list[Any]) -> str:
    """sha256 of the examples' token ids and loss masks, in order (what the Trainer trains on)."""
    digest = hashlib.sha256()
    for ex in examples:
        # array('q') gives a fixed-width byte string, so [1, 23] and [12, 3] never hash alike
        digest.update(array("q", ex.input_ids).tobytes())
        digest.update(b"|")
        digest.update(array("q", ex.labels).tobytes())
        digest.update(b"\n")
    return digest.hexdigest()


def read_record(run_dir: Path) -> tuple[dict | None, str | None]:
    """(the previous run's config, its data fingerprint), each None when not recorded or unreadable."""

    def load(name: str) -> dict | None:
        try:
            value = json.loads((run_dir / name).read_text())
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    data = load(DATA_FILE) or {}
    fingerprint = data.get(FINGERPRINT_KEY)
    return load(CONFIG_FILE), fingerprint if isinstance(fingerprint, str) else None


# Fields that name a model or tokenizer by its path (or a hub id)
PATH_FIELDS = ("model", "tokenizer")


def _same_place(old: Any, new: Any, run_dir: Path | None) -> bool:
    """Whether two values of a path field name the same thing: equal, or the new one lies inside the
    run directory and the old one ends with the same path inside it (the run directory moved)."""
    if old == new:
        return True
    if run_dir is None or not isinstance(old, str) or not isinstance(new, str):
        return False
    try:
        inside = Path(new).resolve().relative_to(run_dir.resolve()).parts
    except ValueError:
        return False  # outside the run directory: a hub id or a model of its own, compared as named
    return bool(inside) and Path(old).is_absolute() and Path(old).parts[-len(inside):] == inside


def differences(previous: dict, config: FinetuneConfig, run_dir: Path | None = None) -> list[str]:
    """'field: old → new' for each field that makes the run and differs (fields unknown to either
    side count: a config written by another version of resto is not known to match). With `run_dir`,
    a model or tokenizer inside it is compared by its place there (`_same_place`)."""
    now = config.model_dump(mode="json")
    keys = sorted((set(previous) | set(now)) - MAY_CHANGE)
    missing = object()

    def same(key: str) -> bool:
        old, new = previous.get(key, missing), now.get(key, missing)
        return _same_place(old, new, run_dir) if key in PATH_FIELDS else old == new

    return [f"{key}: {previous.get(key, '(absent)')!r} → {now.get(key, '(absent)')!r}" for key in keys if not same(key)]


def check_resume(
    run_dir: Path, config: FinetuneConfig, fingerprint: str, previous: tuple[dict | None, str | None], checkpoint: str
) -> None:
    """Raise ResumeMismatch unless `checkpoint` (in run_dir) belongs to a run of this config and data."""
    old_config, old_fingerprint = previous
    if old_config is None:
        problems = [f"{run_dir / CONFIG_FILE} is missing or unreadable, so the checkpoint's settings are unknown"]
    else:
        problems = differences(old_config, config, run_dir)
    if old_fingerprint is not None and old_fingerprint != fingerprint:
        problems.append("the training conversations differ (another traces file, template, tool list or tokenizer)")
    # a record from before fingerprints were kept says nothing about the data: the config decides
    if problems:
        listed = "\n  ".join(problems)
        raise ResumeMismatch(
            f"{run_dir} holds {Path(checkpoint).name} of a different run, so resuming would mix the two:\n  {listed}\n"
            f"Use another run directory, set `resume: false` to start afresh here, or delete {run_dir / 'checkpoints'}."
        )
