"""`resto data download`: fetch SGD and the TFT benchmark from their public repositories.

Both come as GitHub branch archives (zip), fetched with httpx and unpacked into the layout the
rest of resto reads (`RESTO_DATA_DIR`):

    DIR/sgd/{train,dev,test}/dialogues_NNN.json + schema.json   (dialogues of the services we use)
    DIR/tft-benchmark/scenario-*/{tft,tft-raw-data,direct}/…

`base_url` (default https://github.com) can point elsewhere, e.g. a mirror; tests point it at
a server on 127.0.0.1. Network failures become one clear `UserError` sentence, never a traceback,
and a failed download leaves nothing half-written behind (files are unpacked into a temporary
folder that is moved into place at the end).
"""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx

from backend.errors import UserError

GITHUB = "https://github.com"
SGD_SERVICES = frozenset({"Restaurants_1", "Restaurants_2", "Hotels_1"})


@dataclass(frozen=True)
class Source:
    name: str  # folder under DIR
    repo: str
    branches: tuple[str, ...]

    def urls(self, base_url: str) -> list[str]:
        base = base_url.rstrip("/")
        return [f"{base}/{self.repo}/archive/refs/heads/{b}.zip" for b in self.branches]


SOURCES = {
    "sgd": Source("sgd", "google-research-datasets/dstc8-schema-guided-dialogue", ("master", "main")),
    "tft-benchmark": Source("tft-benchmark", "distil-labs/distil-tft-benchmarking", ("main", "master")),
}


def _fetch(source: Source, base_url: str, timeout_s: float) -> bytes:
    last = ""
    for url in source.urls(base_url):
        try:
            with httpx.Client(follow_redirects=True, timeout=timeout_s) as client:
                response = client.get(url)
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise UserError(
                f"Could not download {source.name} from {url} ({reason}); check the network connection, "
                f"or copy the data by hand into the layout described in the README."
            ) from None
        if response.status_code == 200:
            return response.content
        last = f"{url} answered HTTP {response.status_code}"
    raise UserError(f"Could not download {source.name}: {last}.")


def _members(archive: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """Archive members with the archive's top folder (`repo-branch/`) stripped."""
    out = []
    for info in archive.infolist():
        parts = PurePosixPath(info.filename).parts
        if info.is_dir() or len(parts) < 2 or ".." in parts:
            continue
        out.append((info, PurePosixPath(*parts[1:])))
    return out


def _unpack_sgd(archive: zipfile.ZipFile, target: Path) -> int:
    written = 0
    for info, rel in _members(archive):
        if len(rel.parts) != 2 or rel.parts[0] not in ("train", "dev", "test"):
            continue
        if rel.name == "schema.json":
            data = archive.read(info)
        elif re.fullmatch(r"dialogues_\d+\.json", rel.name):
            dialogues = [d for d in json.loads(archive.read(info)) if SGD_SERVICES & set(d.get("services", ()))]
            if not dialogues:
                continue
            data = json.dumps(dialogues, indent=2).encode()
            written += 1
        else:
            continue
        path = target.joinpath(*rel.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return written


def _unpack_benchmark(archive: zipfile.ZipFile, target: Path) -> int:
    written = 0
    for info, rel in _members(archive):
        if len(rel.parts) != 3 or not rel.parts[0].startswith("scenario-"):
            continue
        if rel.parts[1] not in ("tft", "tft-raw-data", "direct"):
            continue
        path = target.joinpath(*rel.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(archive.read(info))
        written += 1
    return written


def download(out: Path, *, base_url: str = GITHUB, only: str | None = None, timeout_s: float = 120.0) -> list[str]:
    """Download the data sets into `out`; returns one line per data set for the user."""
    names = [only] if only else list(SOURCES)
    lines = []
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        source = SOURCES[name]
        payload = _fetch(source, base_url, timeout_s)
        staging = out / f".{name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            with zipfile.ZipFile(io.BytesIO(payload)) as archive:
                unpack = _unpack_sgd if name == "sgd" else _unpack_benchmark
                count = unpack(archive, staging)
        except (zipfile.BadZipFile, json.JSONDecodeError, KeyError) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise UserError(f"The {name} archive is not what resto expects ({exc}).") from None
        if count == 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise UserError(f"The {name} archive holds none of the expected files; is the repository layout unchanged?")
        final = out / name
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
        lines.append(f"{name}: {count} files in {final}")
    return lines
