"""What every TFT stage writes, so a run can be inspected and resumed stage by stage.

    RUN_DIR/<stage>/items.jsonl   one line per item: id, keep, reason, messages, meta (append-only)
    RUN_DIR/<stage>/stats.json    kept / dropped (by reason), LLM calls made, cache hits, time
                                  — written last, so its presence means "stage finished"
    RUN_DIR/<stage>/progress.json counters of the work done so far, updated with every item, so
                                  the final statistics of a resumed stage include earlier invocations

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
from collections.abc import Callable, Iterable
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
COUNTERS = ("requests", "cache_hits", "retries", "failures")


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
        self.progress_path = self.dir / "progress.json"
        if not resume:
            for path in (self.items_path, self.stats_path, self.progress_path):
                path.unlink(missing_ok=True)
        self._earlier = self._read_progress()
        self._clients: Callable[[], Iterable[ChatClient]] = tuple
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

    def attach(self, clients: Callable[[], Iterable[ChatClient]]) -> None:
        """Where this invocation's LLM counters come from (read at every write and at the end)."""
        self._clients = clients

    def write(self, item: Item) -> None:
        self._fh.write(json.dumps(item.to_record()) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._written[item.id] = item
        self._atomic_write(self.progress_path, self._totals())

    def _read_progress(self) -> dict[str, float]:
        try:
            data = json.loads(self.progress_path.read_text())
        except (OSError, json.JSONDecodeError):
            return {}
        return {k: data.get(k, 0) for k in (*COUNTERS, "time_s")}

    def _now(self, clients: Iterable[ChatClient]) -> dict[str, float]:
        now = dict.fromkeys(COUNTERS, 0)
        for client in clients:
            for key in COUNTERS:
                now[key] += getattr(client.stats, key)
        now["time_s"] = time.perf_counter() - self._start
        return now

    def _totals(self, clients: Iterable[ChatClient] | None = None) -> dict[str, float]:
        now = self._now(self._clients() if clients is None else clients)
        return {k: self._earlier.get(k, 0) + v for k, v in now.items()}

    @staticmethod
    def _atomic_write(path: Path, data: dict[str, Any]) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(path)

    def items(self) -> list[Item]:
        return list(self._written.values())

    def finish(self, clients: Iterable[ChatClient] | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write stats.json. LLM counters and time add up every invocation that worked on the stage
        (`this_run` has this invocation's own)."""
        self._fh.close()
        clients = list(self._clients() if clients is None else clients)
        items = self.items()
        dropped = Counter(reason_code(i.reason) for i in items if not i.keep)
        total, now = self._totals(clients), self._now(clients)
        stats = {
            "stage": self.stage,
            "items": len(items),
            "kept": sum(1 for i in items if i.keep),
            "dropped": sum(dropped.values()),
            "dropped_by_reason": dict(dropped.most_common()),
            "resumed_items": sum(1 for i in self._previous if i in self._written),
            "llm_requests": total["requests"],
            "cache_hits": total["cache_hits"],
            "retries": total["retries"],
            "failures": total["failures"],
            "time_s": round(total["time_s"], 3),
            "this_run": {"llm_requests": now["requests"], "cache_hits": now["cache_hits"],
                         "time_s": round(now["time_s"], 3)},
            **(extra or {}),
        }
        self._atomic_write(self.stats_path, stats)
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
