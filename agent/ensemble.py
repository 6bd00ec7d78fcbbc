"""Several causal LMs that share one tokenizer, decoded as one model (a product of experts).

    build_ensemble_dir(out, [run / "member-0", run / "member-1"], tokenizer_dir=run / "base")
    combine_models(out, ["runA/models/demo", "runB/models/demo"])  # `resto model ensemble`: checked first
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

import hashlib
import json
import shutil
import tempfile
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


def _flat_members(paths: Sequence[str | Path]) -> list[tuple[Path, Path]]:
    """(model directory, its tokenizer directory) pairs; an ensemble directory gives its members, read
    with its own top-level tokenizer (so ensembles combine)."""
    flat: list[tuple[Path, Path]] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if is_ensemble_dir(path):
            flat.extend((member, path) for member in member_dirs(path))
        elif (path / "config.json").is_file():
            flat.append((path, path))
        else:
            raise EnsembleError(f"{path} is not a model directory (no config.json).")
    return flat


def _tokenizer_digest(directory: Path) -> str:
    try:
        return hashlib.sha256((directory / "tokenizer.json").read_bytes()).hexdigest()
    except OSError:
        raise EnsembleError(f"{directory} has no tokenizer.json; every member needs the shared tokenizer.") from None


def _carry_declared_decoding(out: Path, models: Sequence[str | Path]) -> None:
    """Demo models ask the chat for grounded decoding (agent.resolve.declares_grounded); an ensemble
    of them asks too, so `resto chat --model ENSEMBLE` decodes as each of its members would."""
    from agent.resolve import DEMO_CARD, declares_grounded  # resolve imports this module

    if all(declares_grounded(Path(m).expanduser()) for m in models):
        card = {"decoding": "grounded", "ensemble_of": [str(Path(m).expanduser()) for m in models]}
        (out / DEMO_CARD).write_text(json.dumps(card, indent=2) + "\n")


def combine_models(out_dir: str | Path, models: Sequence[str | Path]) -> Path:
    """One ensemble directory from model directories trained apart (e.g. `resto model demo` runs with
    other seeds, on other machines). Why the checks: members are averaged token by token, so they must
    read and write the same token ids; a member with another tokenizer would decode as noise, not fail.

    Ensemble directories among `models` contribute their members. `out_dir` must be new or empty, and is
    written through a temporary sibling, so a failed copy leaves nothing half-built."""
    out = Path(out_dir).expanduser()
    pairs = _flat_members(models)
    if len(pairs) < 2:
        raise EnsembleError(f"an ensemble needs at least two models; got {len(pairs)}.")
    # members of one ensemble share its tokenizer directory: read each directory once
    digests = {tokenizer_dir: _tokenizer_digest(tokenizer_dir) for tokenizer_dir in dict.fromkeys(t for _, t in pairs)}
    first, first_tokenizer = pairs[0]
    for member, tokenizer_dir in pairs[1:]:
        if digests[tokenizer_dir] != digests[first_tokenizer]:
            raise EnsembleError(
                f"{member} has another tokenizer than {first}: members must share one tokenizer "
                "(train them with the same --vocab and --tokenizer on the same data)."
            )
    members = [member for member, _ in pairs]
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise EnsembleError(f"{out} exists and is not empty; choose a new directory.")
    target = out.resolve()
    if any(m.resolve() == target or m.resolve() in target.parents for m in members):
        raise EnsembleError(f"{out} is (inside) one of the members; choose another directory.")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        build_ensemble_dir(staging, members, tokenizer_dir=first_tokenizer)
        _carry_declared_decoding(staging, models)
        if out.exists():
            out.rmdir()  # empty, checked above
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
