"""What every TFT stage writes, so a run can be inspected and resumed stage by stage.

    RUN_DIR/<stage>/items.jsonl   one line per item: id, keep, reason, messages, meta (append-only)
    RUN_DIR/<stage>/stats.json    kept / dropped (by reason), LLM calls made, cache hits, time
                                  — written last, so its presence means "stage finished"

Items are appended and flushed one by one: a run killed mid-stage keeps every finished item, and
the resumed stage skips their ids. A torn last line (killed mid-write) is ignored on reading.
A reason reads "code: detail"; stats count drops by the code. Items dropped because an LLM call
failed (code `llm-error`: timeout, HTTP error) are not "done": a resumed stage asks again.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.conversation import Message, normalize_messages
from agent.llm_client import ChatClient


@dataclass
class Item:
    id: str
    messages: list[Message]
    keep: bool = True
    reason: str = "ok"
    meta: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {"id": self.id, "keep": self.keep, "reason": self.reason, "messages": self.messages, "meta": self.meta}

    @classmethod
    def from_record(cls, obj: dict[str, Any]) -> Item:
        return cls(
            id=str(obj["id"]),
            messages=normalize_messages(obj.get("messages") or []),
            keep=bool(obj.get("keep")),
            reason=str(obj.get("reason", "")),
            meta=dict(obj.get("meta") or {}),
        )


RETRY_CODES = {"llm-error"}


def reason_code(reason: str) -> str:
    return reason.split(":", 1)[0].strip() or "unspecified"


def read_items(path: Path) -> list[Item]:
    """Every well-formed item of an items.jsonl (later lines with the same id win)."""
    items: dict[str, Item] = {}
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                item = Item.from_record(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue  # the torn tail of a killed run
            items[item.id] = item
    return list(items.values())


class StageRun:
    """One stage's output folder. `resume=False` starts it afresh."""

    def __init__(self, run_dir: Path, stage: str, resume: bool = True):
        self.stage = stage
        self.dir = Path(run_dir) / stage
        self.dir.mkdir(parents=True, exist_ok=True)
        self.items_path = self.dir / "items.jsonl"
        self.stats_path = self.dir / "stats.json"
        if not resume:
            for path in (self.items_path, self.stats_path):
                path.unlink(missing_ok=True)
        self._previous = {
            item.id: item for item in read_items(self.items_path) if reason_code(item.reason) not in RETRY_CODES
        }
        self._written: dict[str, Item] = dict(self._previous)
        self._start = time.perf_counter()
        self._fh = self.items_path.open("a", encoding="utf-8")

    @property
    def complete(self) -> bool:
        return self.stats_path.exists()

    @property
    def done(self) -> dict[str, Item]:
        """Items finished by an earlier (interrupted) invocation."""
        return self._previous

    def write(self, item: Item) -> None:
        self._fh.write(json.dumps(item.to_record()) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._written[item.id] = item

    def items(self) -> list[Item]:
        return list(self._written.values())

    def finish(self, clients: Iterable[ChatClient] = (), extra: dict[str, Any] | None = None) -> dict[str, Any]:
        self._fh.close()
        items = self.items()
        dropped = Counter(reason_code(i.reason) for i in items if not i.keep)
        requests = cache_hits = retries = failures = 0
        for client in clients:
            requests += client.stats.requests
            cache_hits += client.stats.cache_hits
            retries += client.stats.retries
            failures += client.stats.failures
        stats = {
            "stage": self.stage,
            "items": len(items),
            "kept": sum(1 for i in items if i.keep),
            "dropped": sum(dropped.values()),
            "dropped_by_reason": dict(dropped.most_common()),
            "resumed_items": sum(1 for i in self._previous if i in self._written),
            "llm_requests": requests,
            "cache_hits": cache_hits,
            "retries": retries,
            "failures": failures,
            "time_s": round(time.perf_counter() - self._start, 3),
            **(extra or {}),
        }
        tmp = self.stats_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stats, indent=2))
        tmp.replace(self.stats_path)
        return stats

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


def load_stats(run_dir: Path, stage: str) -> dict[str, Any] | None:
    path = Path(run_dir) / stage / "stats.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def kept_items(run_dir: Path, stage: str) -> list[Item]:
    return [i for i in read_items(Path(run_dir) / stage / "items.jsonl") if i.keep]
