"""Closed-loop tasks: a simulated user pursues a benchmark dialogue's goal through the REAL agent
loop (`agent.loop.AgentSession`) against a fresh copy of the real database.

The per-turn benchmark scores each call against a gold history, so it never sees errors that
compound. Here the agent's own calls build the history, its bookings hit the database, and only
the end state counts.

Task = one conversation of the benchmark's test set (34 Restaurants_1 dialogues from SGD).
- Goal state: the reference conversation's service calls (FindRestaurants / ReserveRestaurant, in
  order) are executed on a fresh copy of the database; the confirmed reservations that leaves
  (restaurant, city, date, time, party size) are the state the dialogue implies in OUR database
  (the same backend the agent uses, so SGD's availability outcomes are honoured as the DB
  reproduces them).
- Success = the agent's episode leaves exactly that multiset of reservations AND the user was
  told the outcome: for a booking, a respond_to_user after the last booking call that mentions it
  (a confirmation word — confirm/book/reserv/success/all set/done — or the restaurant's name);
  for a dialogue whose booking attempts all failed, an agent ReserveRestaurant call followed by a
  reply; for a search-only dialogue, a reply after the agent's last search.

Scripted user (`ScriptedUser`), the rules (kept minimal so it stays a replay of the real user):
1. The dialogue's user utterances (`agent.policies.replay.user_turns`: user messages that are not
   tool results) are sent in order, one per agent reply.
2. When the agent's reply is the loop's own booking confirmation question ("Just to confirm: shall
   I book …", asked when the model tried to book without a confirmation), the user answers
   "Yes, please." without consuming a scripted utterance.
3. When the script is exhausted, the goal booking is not in the database yet and the agent's last
   reply asks the user to confirm ("confirm", "shall I", "should I", "would you like me to",
   "go ahead", "book"), the user answers "Yes, please." — the agent asked one turn later than in
   the reference dialogue.
At most `max_extra_turns` (default 2) answers come from rules 2–3; then the episode ends.

LLM user (`LLMUser`, optional): an endpoint model plays the user from the goal and the original
utterances, and ends with "[DONE]".

pass^k (τ-bench): per task with c successes in n trials, C(c, k) / C(n, k), averaged over tasks —
the chance that k independent trials ALL succeed. Sampling must be on (temperature > 0).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from math import comb
from pathlib import Path
from typing import Any

from sqlalchemy import select

import backend.tools
from agent.conversation import Message, ToolCall, is_tool_call_message, tool_calls
from agent.loop import AgentSession
from agent.policies.base import Policy
from agent.policies.replay import user_turns
from agent.tools import SERVICE_TOOLS
from backend.db import make_engine, session_scope
from backend.models import Reservation

RESERVE = "ReserveRestaurant"
LOOP_CONFIRMATION_PREFIX = "Just to confirm: shall I book"
YES = "Yes, please."
_ASKS_CONFIRMATION = re.compile(r"confirm|shall i|should i|would you like me to|go ahead|\bbook", re.I)
_TELLS_BOOKING = re.compile(r"confirm|book|reserv|success|all set|\bdone\b", re.I)


@dataclass(frozen=True, order=True)
class Booking:
    restaurant: str
    city: str
    date: str
    time: str
    party_size: int


@dataclass
class Task:
    id: str
    messages: list[Message]  # the reference conversation
    utterances: list[str]
    expected: list[Booking]
    books: bool  # the reference calls ReserveRestaurant at least once
    searches: bool

    @property
    def goal(self) -> str:
        if self.expected:
            b = self.expected[-1]
            return f"book a table at {b.restaurant} in {b.city} on {b.date} at {b.time} for {b.party_size}"
        return "find a restaurant" + (" and try to book a table" if self.books else "")


def reservations(engine: Any) -> list[Booking]:
    """The confirmed reservations in the database, sorted."""
    with session_scope(engine) as session:
        rows = session.scalars(select(Reservation).where(Reservation.status == "confirmed")).all()
        return sorted(
            Booking(r.restaurant.name, r.restaurant.city, r.date, r.time, int(r.party_size)) for r in rows
        )


class Databases:
    """A template database built once from SGD, copied afresh for every episode."""

    def __init__(self, template: Path, workdir: Path | None = None):
        self.template = Path(template)
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="resto-tasks-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._n = 0

    @classmethod
    def build(cls, sgd_dir: Path, workdir: Path) -> Databases:
        from backend.sgd_builder import build_database

        template = Path(workdir) / "template.db"
        if not template.exists():
            build_database(str(template), Path(sgd_dir))
        return cls(template, workdir)

    def fresh(self) -> Any:
        self._n += 1
        path = self.workdir / f"episode-{self._n}.db"
        for side in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            side.unlink(missing_ok=True)
        shutil.copyfile(self.template, path)
        return make_engine(path)

    @staticmethod
    def discard(engine: Any) -> None:
        url = str(engine.url)
        engine.dispose()
        path = Path(url.split("///", 1)[1]) if "///" in url else None
        if path is not None:
            for side in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                side.unlink(missing_ok=True)


def make_task(task_id: str, messages: list[Message], dbs: Databases) -> Task:
    engine = dbs.fresh()
    try:
        calls = tool_calls(messages)
        for call in calls:
            if call.name in SERVICE_TOOLS:
                backend.tools.execute(engine, call.name, call.arguments)
        expected = reservations(engine)
    finally:
        dbs.discard(engine)
    return Task(
        task_id,
        messages,
        user_turns(messages),
        expected,
        books=any(c.name == RESERVE for c in calls),
        searches=any(c.name == "FindRestaurants" for c in calls),
    )


class ScriptedUser:
    """Replays the dialogue's user utterances, with the adaptation rules of the module docstring."""

    def __init__(self, task: Task, max_extra_turns: int = 2):
        self.task = task
        self.script = list(task.utterances)
        self.position = 0
        self.extra = 0
        self.max_extra_turns = max_extra_turns

    def next(self, last_reply: str | None, booked_goal: bool) -> str | None:
        if (
            last_reply
            and last_reply.startswith(LOOP_CONFIRMATION_PREFIX)
            and self.extra < self.max_extra_turns
        ):
            self.extra += 1
            return YES
        if self.position < len(self.script):
            self.position += 1
            return self.script[self.position - 1]
        if (
            self.task.expected
            and not booked_goal
            and last_reply
            and _ASKS_CONFIRMATION.search(last_reply)
            and self.extra < self.max_extra_turns
        ):
            self.extra += 1
            return YES
        return None


class LLMUser:
    """An endpoint LLM playing the user (optional). Ends the episode by writing [DONE]."""

    def __init__(self, task: Task, client: Any, max_turns: int | None = None, temperature: float = 0.7):
        self.task, self.client, self.temperature = task, client, temperature
        self.max_turns = max_turns or len(task.utterances) + 4
        self.history: list[Message] = []
        self.turns = 0
        self.system = (
            "You are a customer talking to a restaurant booking assistant. Your goal: "
            f"{task.goal}. The original customer said, in order:\n"
            + "\n".join(f"- {u}" for u in task.utterances)
            + "\nSay what they said, adapting to what the assistant actually asks. One message at a time, "
            "no explanations. When the goal is reached or the conversation is over, reply [DONE]."
        )

    def next(self, last_reply: str | None, booked_goal: bool) -> str | None:
        if self.turns >= self.max_turns:
            return None
        if last_reply is not None:
            self.history.append({"role": "user", "content": last_reply})
        messages = [{"role": "system", "content": self.system}, *self.history]
        if not self.history:
            messages.append({"role": "user", "content": "(The assistant is waiting for your first message.)"})
        response = self.client.chat(messages, temperature=self.temperature, max_tokens=200, use_cache=False)
        text = response.text.strip()
        if not text or "[DONE]" in text:
            return None
        self.history.append({"role": "assistant", "content": text})
        self.turns += 1
        return text


@dataclass
class Episode:
    task: str
    trial: int
    success: bool
    state_ok: bool
    told: bool
    expected: list[Booking]
    actual: list[Booking]
    turns: int
    errors: list[str] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    replies: int = 0  # the model's replies to the user (respond_to_user)
    unbacked: list[list[str]] = field(default_factory=list)  # per reply that named one: the names no search returned

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["expected"] = [asdict(b) for b in self.expected]
        record["actual"] = [asdict(b) for b in self.actual]
        return record


def told_outcome(task: Task, messages: list[Message], actual: list[Booking]) -> bool:
    """Did a respond_to_user after the last relevant service call tell the user the outcome?"""
    calls = [(i, ToolCall.from_message(m)) for i, m in enumerate(messages) if is_tool_call_message(m)]
    replies = [(i, c.message or "") for i, c in calls if c.name == "respond_to_user"]
    if task.books:
        reserve_at = [i for i, c in calls if c.name == RESERVE]
        if not reserve_at:
            return False
        after = [text for i, text in replies if i > reserve_at[-1]]
        if not task.expected:
            return bool(after)
        names = {b.restaurant.lower() for b in actual}
        return any(_TELLS_BOOKING.search(t) or any(n in t.lower() for n in names) for t in after)
    if task.searches:
        find_at = [i for i, c in calls if c.name == "FindRestaurants"]
        return bool(find_at) and any(i > find_at[-1] for i, _ in replies)
    return bool(replies)


def run_episode(
    task: Task,
    policy: Policy,
    dbs: Databases,
    *,
    trial: int = 0,
    user: Any | None = None,
    confirm_bookings: bool = True,
    max_steps: int = 4,
    max_turns: int = 40,
) -> Episode:
    engine = dbs.fresh()
    try:
        if hasattr(policy, "reset"):
            policy.reset()  # a new conversation: drop any KV cache of the last one
        session = AgentSession(policy, engine, confirm_bookings=confirm_bookings, max_steps=max_steps)
        user = user or ScriptedUser(task)
        goal = Counter(task.expected)
        reply: str | None = None
        errors: list[str] = []
        turns = replies = 0
        unbacked: list[list[str]] = []
        while turns < max_turns:
            booked_goal = bool(goal) and Counter(reservations(engine)) == goal
            text = user.next(reply, booked_goal)
            if text is None:
                break
            result = session.send(text)
            turns += 1
            reply = result.reply
            replies += any(c.name == "respond_to_user" for c in result.calls)
            if result.unbacked:
                unbacked.append(result.unbacked)
            if result.error:
                errors.append(result.error)
        actual = reservations(engine)
        state_ok = Counter(actual) == goal
        told = told_outcome(task, session.messages, actual)
        return Episode(
            task.id,
            trial,
            state_ok and told,
            state_ok,
            told,
            task.expected,
            actual,
            turns,
            errors,
            list(session.messages),
            replies,
            unbacked,
        )
    finally:
        dbs.discard(engine)


def pass_hat_k(successes: list[int], trials: int, k: int) -> float | None:
    """τ-bench's pass^k over tasks: mean of C(c, k) / C(n, k); None when k > trials."""
    if k > trials or not successes:
        return None
    return sum(comb(c, k) / comb(trials, k) for c in successes) / len(successes)


@dataclass
class TaskReport:
    episodes: list[Episode]
    trials: int

    def successes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.episodes:
            out[e.task] = out.get(e.task, 0) + int(e.success)
        return out

    def summary(self) -> dict[str, Any]:
        per_task = self.successes()
        n = len(self.episodes)
        replies = sum(e.replies for e in self.episodes)
        unbacked = sum(len(e.unbacked) for e in self.episodes)
        return {
            "tasks": len(per_task),
            "trials": self.trials,
            "episodes": n,
            "success_rate": sum(e.success for e in self.episodes) / n if n else 0.0,
            "state_ok_rate": sum(e.state_ok for e in self.episodes) / n if n else 0.0,
            "told_rate": sum(e.told for e in self.episodes) / n if n else 0.0,
            "replies": replies,
            "unbacked_replies": unbacked,
            "unbacked_reply_rate": unbacked / replies if replies else 0.0,
            "pass^k": {
                str(k): pass_hat_k(list(per_task.values()), self.trials, k) for k in range(1, self.trials + 1)
            },
            "per_task": per_task,
        }

    def markdown(self, title: str) -> str:
        s = self.summary()
        lines = [
            f"# Closed-loop tasks: {title}",
            "",
            f"{s['tasks']} tasks × {s['trials']} trials = {s['episodes']} episodes",
            "",
            "| metric | value |",
            "| --- | --- |",
            f"| success | {s['success_rate']:.3f} |",
            f"| reservations state correct | {s['state_ok_rate']:.3f} |",
            f"| user told the outcome | {s['told_rate']:.3f} |",
            f"| replies naming a restaurant no search returned | {s['unbacked_reply_rate']:.3f} "
            f"({s['unbacked_replies']} of {s['replies']}) |",
        ]
        for k, v in s["pass^k"].items():
            lines.append(f"| pass^{k} | {'—' if v is None else f'{v:.3f}'} |")
        lines += ["", "| task | successes | goal |", "| --- | --- | --- |"]
        goals = {e.task: e.expected for e in self.episodes}
        for task, c in s["per_task"].items():
            goal = (
                "; ".join(f"{b.restaurant}, {b.city}, {b.date} {b.time}, {b.party_size}" for b in goals[task])
                or "(no booking)"
            )
            lines.append(f"| {task} | {c}/{s['trials']} | {goal} |")
        return "\n".join(lines) + "\n"


def run_tasks(
    tasks: list[Task],
    make_policy: Callable[[Task, int], Policy],
    dbs: Databases,
    *,
    trials: int = 4,
    make_user: Callable[[Task], Any] | None = None,
    confirm_bookings: bool = True,
    max_steps: int = 4,
    on_episode: Callable[[Episode], None] | None = None,
) -> TaskReport:
    episodes = []
    for task in tasks:
        for trial in range(trials):
            episode = run_episode(
                task,
                make_policy(task, trial),
                dbs,
                trial=trial,
                user=make_user(task) if make_user else None,
                confirm_bookings=confirm_bookings,
                max_steps=max_steps,
            )
            episodes.append(episode)
            if on_episode:
                on_episode(episode)
    return TaskReport(episodes, trials)
