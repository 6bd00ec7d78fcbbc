"""The agent loop: one user turn = model calls and tool executions until the model talks to the user.

    session = AgentSession(policy, engine, log=SessionLog(engine))
    result = session.send("Find me a cheap Thai place in San Jose")   # synchronous; UIs use a thread
    print(result.reply)

Per user turn, at most `max_steps` model calls:

- the policy proposes one call; it is parsed (by the policy) and validated against the tool
  schema here (`agent.tools.validate_call`: unknown tools, enum values, required fields);
- an invalid or unparseable call gets ONE repair attempt: the error is shown to the model as an
  extra user message that exists only for that attempt (it is never kept in the history, so the
  logged conversation stays in the benchmark format). A second failure, a policy exception or
  running out of steps ends the turn with a safe apology — never a crash;
- `FindRestaurants` / `ReserveRestaurant` run against the database (`backend.tools.execute`); the
  call and its result (the next user message by default) are appended and the loop continues;
- `respond_to_user` ends the turn with its message. The restaurants it names that no search of this
  conversation returned and the user never said are listed in `Reply.unbacked` (`agent.name_check`):
  prose is free even under grounded decoding, and a person should know which names to distrust.

Booking safety (`confirm_bookings`, on in the app, off for benchmark replay): a `ReserveRestaurant`
the database would refuse (run dry first: an unknown restaurant, a time it cannot read) goes straight back to
the model as its failed result, so nobody is asked to confirm a table that cannot be booked. Otherwise
it only runs when the user's last message confirmed (`agent.confirmation.is_affirmative`). Otherwise
the loop emits `ConfirmationNeeded` and asks the model (again with a message not kept in the
history) to confirm the details with the user first; if it insists, the loop asks the user itself.
An optional `confirm(call) -> bool` callback (the TUI asks the human in a dialog) runs before any
booking (it runs on the loop's thread); False tells the model that the user declined, and a second
booking attempt in the same turn ends it with `DECLINED_REPLY`.

The notes shown to the model and the loop's fixed replies are in `agent.loop_notes`.

Cancellation (`cancel` event) ends the turn with `cancelled=True`; a call and its result are
always appended together, so the history never holds a call without its result.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import backend.tools
from agent.confirmation import is_affirmative
from agent.conversation import Message, ToolCall, result_message, user_message
from agent.events import (
    AgentError,
    CallStarted,
    ConfirmationNeeded,
    Event,
    Reply,
    TextDelta,
    ToolCallMade,
    ToolResult,
    TurnFinished,
)
from agent.loop_notes import (
    APOLOGY,
    DECLINED_REPLY,
    OUT_OF_STEPS,
    confirmation_note,
    confirmation_question,
    declined_note,
    repair_note,
)
from agent.policies.base import Cancelled, Policy, PolicyStep
from agent.tools import RESPOND_TO_USER, CallValidationError, tool_schemas, validate_call

RESERVE = backend.tools.ReserveRestaurantArgs.tool_name  # the one tool the loop guards


@dataclass
class TurnResult:
    """What one `send` produced. `new_messages` are the messages appended to the history."""

    reply: str
    calls: list[ToolCall] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    cancelled: bool = False
    error: str | None = None
    latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    steps: int = 0
    new_messages: list[Message] = field(default_factory=list)
    unbacked: list[str] = field(default_factory=list)  # restaurants the reply names that nothing backs


class AgentSession:
    """One conversation with the agent. Not thread-safe: one `send` at a time."""

    def __init__(
        self,
        policy: Policy,
        engine: Any,
        *,
        tools: list[dict[str, Any]] | None = None,
        confirm_bookings: bool = True,
        max_steps: int = 4,
        tool_result_role: str = "user",
        log: Any | None = None,  # agent.sessionlog.SessionLog (not imported: keeps this module light)
        on_event: Callable[[Event], None] | None = None,
        confirm: Callable[[ToolCall], bool] | None = None,
        metadata: dict[str, Any] | None = None,
        check_names: bool = True,
    ):
        if max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        if tool_result_role not in ("user", "tool"):
            raise ValueError(f"tool_result_role must be 'user' or 'tool', not {tool_result_role!r}")
        self.policy = policy
        self.engine = engine
        self.tools = tools if tools is not None else tool_schemas()
        self.confirm_bookings = confirm_bookings
        self.max_steps = max_steps
        self.tool_result_role = tool_result_role
        self.log = log
        self.on_event = on_event
        self.confirm = confirm
        self.metadata = dict(metadata or {})
        self.check_names = check_names
        self._gazetteer: Any = None  # agent.grounding.Gazetteer of `engine`, read on the first reply
        self.messages: list[Message] = []
        self.session_id = ""
        self._logged = False
        self.reset()

    # -- public -------------------------------------------------------------------------------

    def reset(self) -> None:
        """Start a new session: empty history, a fresh id (logged on its first turn)."""
        self.messages = []
        self.session_id = uuid.uuid4().hex
        self._logged = False
        self._unlogged: list[Message] = []  # messages whose log write failed; retried next turn
        reset_policy = getattr(self.policy, "reset", None)
        if callable(reset_policy):
            reset_policy()  # e.g. the hf policy drops its KV cache: nothing of it is reusable now

    def send(self, text: str, *, cancel: threading.Event | None = None) -> TurnResult:
        """Run one user turn to completion (or cancellation). Never raises for model problems."""
        start = len(self.messages)
        self.messages.append(user_message(text))
        turn = _Turn(self, confirmed=is_affirmative(text), cancel=cancel)
        turn.run()
        result = turn.result
        result.new_messages = self.messages[start:]
        self._log_turn(result, turn.step_stats)
        self._emit(
            result.events,
            TurnFinished(
                steps=result.steps,
                latency_s=result.latency_s,
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
                cancelled=result.cancelled,
                stats={"session_id": self.session_id, "error": result.error},
            ),
        )
        return result

    def unbacked_names(self, reply: str) -> list[str]:
        """Restaurants `reply` names that nothing in this conversation backs (`agent.name_check`);
        [] when the check is off or the database cannot be read (the reply itself is never at risk)."""
        if not self.check_names:
            return []
        from agent.grounding import Gazetteer, policy_gazetteer
        from agent.name_check import unbacked_names

        try:
            if self._gazetteer is None:
                # A grounded policy already read the same database's names: share them, not a second read.
                self._gazetteer = policy_gazetteer(self.policy) or Gazetteer.from_database(self.engine)
            return unbacked_names(reply, self.messages, self._gazetteer)
        except Exception:  # noqa: BLE001 - e.g. a locked or unbuilt database: no check, no failure
            return []

    # -- internals ----------------------------------------------------------------------------

    def _emit(self, events: list[Event], event: Event) -> None:
        events.append(event)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # noqa: BLE001 - a broken UI callback must not break the turn
                pass

    def _log_identity(self) -> tuple[str, str | None, str | None]:
        meta = self.metadata
        model = meta.get("model") or getattr(self.policy, "model_id", None) or self.policy.description
        adapter = meta.get("adapter", getattr(self.policy, "adapter", None))
        endpoint = meta.get("endpoint", getattr(self.policy, "endpoint", None))
        return str(model), adapter, endpoint

    def _log_turn(self, result: TurnResult, step_stats: list[dict[str, Any]]) -> None:
        if self.log is None:
            return
        try:
            if not self._logged:
                model, adapter, endpoint = self._log_identity()
                meta = {k: v for k, v in self.metadata.items() if k not in ("model", "adapter", "endpoint")}
                meta.setdefault("policy", self.policy.description)
                meta.setdefault("confirm_bookings", self.confirm_bookings)
                self.log.start(model, adapter, endpoint, meta, session_id=self.session_id)
                self._logged = True
            stats = {
                "steps": result.steps,
                "latency_s": result.latency_s,
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
                "cancelled": result.cancelled,
                "error": result.error,
                "step_stats": step_stats,
            }
            if result.unbacked:
                stats["unbacked_names"] = result.unbacked
            pending = self._unlogged + result.new_messages
            self.log.log_turn(self.session_id, pending, stats)
            self._unlogged = []
        except Exception as exc:  # noqa: BLE001 - a locked/broken log must not lose the reply
            self._unlogged = self._unlogged + result.new_messages
            result.error = result.error or f"session log failed: {exc}"
            self._emit(result.events, AgentError(f"Could not write the session log: {exc}"))


class _Turn:
    """The state of one user turn (kept out of AgentSession so `send` stays readable)."""

    def __init__(self, session: AgentSession, *, confirmed: bool, cancel: threading.Event | None):
        self.s = session
        self.confirmed = confirmed
        self.cancel = cancel
        self.result = TurnResult(reply="")
        self.step_stats: list[dict[str, Any]] = []
        self.note: Message | None = None  # shown to the next model call only
        self.failures = 0  # consecutive invalid outputs
        self.gated = 0  # bookings refused for lack of confirmation
        self.declined = False  # the human said no in the confirm dialog

    def emit(self, event: Event) -> None:
        self.s._emit(self.result.events, event)

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def finish_with(self, text: str, error: str | None = None) -> None:
        """End the turn with a message of the loop's own (apology or question), kept in the history
        as a respond_to_user call so the conversation stays in the benchmark format."""
        call = ToolCall(RESPOND_TO_USER, {"message": text})
        self.s.messages.append(call.to_message())
        self.result.reply = text
        self.result.error = error
        if error:
            self.emit(AgentError(error, fatal=True))
        self.emit(Reply(text, call))

    def run(self) -> None:
        r = self.result
        while r.steps < self.s.max_steps:
            if self.cancelled():
                r.cancelled = True
                return
            step = self.ask_model()
            if step is None:  # the policy raised; already apologised
                return
            if step.cancelled or self.cancelled():
                r.cancelled = True
                return
            call, problem = self.check(step)
            if problem is not None:
                self.failures += 1
                self.emit(AgentError(problem, raw=step.raw_text))
                if self.failures >= 2:
                    self.finish_with(APOLOGY, error=f"invalid model output after a repair attempt: {problem}")
                    return
                self.note = repair_note(problem, step.raw_text)
                continue
            self.failures = 0
            self.note = None
            assert call is not None
            if call.name == RESPOND_TO_USER:
                self.s.messages.append(call.to_message())
                r.calls.append(call)
                self.emit(ToolCallMade(call))
                r.reply = call.message or ""
                r.unbacked = self.s.unbacked_names(r.reply)
                self.emit(Reply(r.reply, call, unbacked=r.unbacked))
                return
            if call.name == RESERVE and not self.booking_allowed(call):
                if r.reply:  # the loop already answered (asked for confirmation)
                    return
                continue
            self.execute(call)
        self.finish_with(OUT_OF_STEPS, error=f"no reply to the user within {self.s.max_steps} model calls")

    def ask_model(self) -> PolicyStep | None:
        r = self.result
        r.steps += 1
        self.emit(CallStarted(r.steps))
        view = self.s.messages + ([self.note] if self.note else [])
        t0 = time.perf_counter()
        try:
            step = self.s.policy.next_call(
                view, on_text=lambda d: self.emit(TextDelta(d)), cancel=self.cancel
            )
        except Cancelled:
            step = PolicyStep(raw_text="", cancelled=True, latency_s=time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - any model failure becomes an apology, never a crash
            r.latency_s += time.perf_counter() - t0
            self.step_stats.append({"step": r.steps, "error": f"{type(exc).__name__}: {exc}"})
            self.finish_with(APOLOGY, error=f"the model failed: {type(exc).__name__}: {exc}")
            return None
        r.latency_s += step.latency_s or (time.perf_counter() - t0)
        r.prompt_tokens += step.prompt_tokens
        r.completion_tokens += step.completion_tokens
        self.step_stats.append(
            {
                "step": r.steps,
                "raw_text": step.raw_text,
                "latency_s": step.latency_s,
                "prompt_tokens": step.prompt_tokens,
                "completion_tokens": step.completion_tokens,
                "cached_tokens": step.cached_tokens,
                "time_to_first_token_s": step.time_to_first_token_s,
                "error": step.error,
                "repair": self.note is not None,
            }
        )
        return step

    def check(self, step: PolicyStep) -> tuple[ToolCall | None, str | None]:
        """(validated call, None) or (None, a model-readable problem)."""
        if step.call is None:
            return None, f"it could not be parsed as one tool call ({step.error or 'no call'})"
        try:
            args = validate_call(step.call.name, step.call.arguments, self.s.tools)
        except CallValidationError as exc:
            return None, str(exc)
        return ToolCall(step.call.name, args, step.call.id), None

    def booking_allowed(self, call: ToolCall) -> bool:
        """Booking gate. On refusal sets the note for the next call (or answers the user itself)."""
        # Run it dry only when somebody is about to be asked; otherwise the real call reports a refusal itself.
        asks = (self.s.confirm_bookings and not self.confirmed) or self.s.confirm is not None
        if asks and not self.bookable(call):
            return False
        if self.s.confirm_bookings and not self.confirmed:
            self.emit(ConfirmationNeeded(call))
            self.gated += 1
            if self.gated >= 2:  # the model insists: ask the user ourselves rather than loop
                self.finish_with(confirmation_question(call))
            else:
                self.note = confirmation_note(call)
            return False
        if self.s.confirm is not None:
            if self.declined:  # asked once this turn already: do not pester the human, end the turn
                self.finish_with(DECLINED_REPLY)
                return False
            try:
                ok = bool(self.s.confirm(call))
            except Exception:  # noqa: BLE001 - a failing dialog is a "no", never a booking
                ok = False
            if not ok:
                self.declined = True
                self.note = declined_note(call)
                return False
        return True

    def bookable(self, call: ToolCall) -> bool:
        """Before anyone is asked to confirm a booking, run it dry (written, then rolled back). One the
        database refuses (a restaurant it does not know, a time it cannot read) goes back to the model as
        the call's result, as if it had run, so nobody confirms a table that cannot be booked; a
        transient failure (the database busy) leaves the decision to the real call."""
        try:
            outcome = backend.tools.execute(
                self.s.engine, call.name, call.arguments, session_id=self.s.session_id, dry_run=True
            )
        except Exception:  # noqa: BLE001 - the real call reports whatever this was
            return True
        if outcome.error is None or outcome.transient:
            return True
        self.emit(ToolCallMade(call))
        self.record(call, list(outcome.results), outcome.error)
        return False

    def execute(self, call: ToolCall) -> None:
        self.emit(ToolCallMade(call))
        try:
            outcome = backend.tools.execute(
                self.s.engine, call.name, call.arguments, session_id=self.s.session_id
            )
            results, error = list(outcome.results), outcome.error
        except Exception as exc:  # noqa: BLE001 - a failed tool is reported to the model, not raised
            results, error = [{"error": f"{call.name} failed: {exc}"}], str(exc)
        self.record(call, results, error)

    def record(self, call: ToolCall, results: list[dict[str, Any]], error: str | None) -> None:
        # The call and its result are appended together: the history never has a dangling call.
        self.s.messages.append(call.to_message())
        self.s.messages.append(result_message(results, self.s.tool_result_role, call.id))
        self.result.calls.append(call)
        self.emit(ToolResult(call, results, error))
