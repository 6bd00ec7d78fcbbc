"""Several causal LMs that share one tokenizer, decoded as one model (a product of experts).

    build_ensemble_dir(out, [run / "member-0", run / "member-1"], tokenizer_dir=run / "base")
    loaded = load_model(out)        # agent.model_loading: loads like any model directory
    loaded.model(input_ids=ids).logits             # the mean of the members' log-probabilities

An ensemble directory holds `ensemble.json` (`{"members": ["member-0", "member-1"], "combine":
"mean-logprob"}`, paths relative to it), one ordinary model directory per member, and the tokenizer the members share at its top
level, so `AutoTokenizer.from_pretrained(DIR)` works on it. `build_ensemble_dir` writes one.

Every decoding step runs each member on the same tokens and averages their log-probabilities; the
argmax of that mean is the token on which the members agree most (a geometric mean of their
distributions, renormalised by the softmax a sampler applies). Why: small models trained from
scratch make different mistakes from run to run (the demo model's function-name accuracy spreads
over 0.928-0.950 across four seeds), and averaging cancels part of them.

This module is the directory format (no torch import, so resolving a model stays fast);
`agent.ensemble_lm` is the model that decodes it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

ENSEMBLE_FILE = "ensemble.json"
COMBINE = "mean-logprob"  # the one way members are combined (agent.ensemble_lm); written and checked
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")


class EnsembleError(ValueError):
    """An ensemble directory that cannot be used; the message says why."""


def is_ensemble_dir(path: str | Path) -> bool:
    return (Path(path).expanduser() / ENSEMBLE_FILE).is_file()


def member_dirs(path: str | Path) -> list[Path]:
    """The member model directories listed in `path/ensemble.json`, checked to exist."""
    root = Path(path).expanduser()
    try:
        spec = json.loads((root / ENSEMBLE_FILE).read_text())
        members = [root / m for m in spec["members"]]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise EnsembleError(f"{root / ENSEMBLE_FILE} is not a valid ensemble file ({type(exc).__name__}: {exc}).") from exc
    if not members:
        raise EnsembleError(f"{root / ENSEMBLE_FILE} lists no members.")
    if spec.get("combine", COMBINE) != COMBINE:
        raise EnsembleError(f"{root / ENSEMBLE_FILE}: combine {spec['combine']!r} is unknown (only {COMBINE!r}).")
    missing = [str(m) for m in members if not (m / "config.json").is_file()]
    if missing:
        raise EnsembleError(f"ensemble member(s) without a model: {', '.join(missing)}.")
    return members


def build_ensemble_dir(out_dir: str | Path, members: Sequence[str | Path], tokenizer_dir: str | Path) -> Path:
    """Copy `members` (model directories) into `out_dir/member-i`, the tokenizer files of
    `tokenizer_dir` to its top level, and write ensemble.json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for i, member in enumerate(members):
        name = f"member-{i}"
        shutil.rmtree(out / name, ignore_errors=True)
        shutil.copytree(member, out / name)
        names.append(name)
    for fname in TOKENIZER_FILES:
        if (Path(tokenizer_dir) / fname).is_file():
            shutil.copy2(Path(tokenizer_dir) / fname, out / fname)
    (out / ENSEMBLE_FILE).write_text(json.dumps({"members": names, "combine": COMBINE}, indent=2) + "\n")
    return out
