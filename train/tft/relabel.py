"""Stage 2, Relabel: a committee of LLMs proposes the assistant calls of each trace; a deterministic
validator discards bad proposals cheaply; the teacher arbitrates between the survivors.

For each trace every member of `trace_processing.relabelling_committee_models` sees the task, the
tools and the conversation (user turns and tool results as recorded, assistant turns as slots) and
answers one call per slot. Each proposal becomes a candidate conversation and goes through
`checks.conversation_problems` (structure, schema, grounding). Then:
- no valid candidate → dropped (`no-valid-candidate`, with every member's failure);
- valid candidates that agree (same functions and service arguments; respond_to_user wording may
  differ) → kept without asking the teacher (`agreed`, or `only-valid` when one member's survived);
- otherwise the teacher picks one (`arbitrated`); if its reply is unusable → `arbitration-malformed`.
A member that times out, fails, or answers malformed JSON is recorded in the item's meta and
simply does not contribute a candidate.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agent.conversation import ToolCall
from agent.llm_client import ChatResponse, LLMError
from agent.tools import RESPOND_TO_USER
from train.tft.checks import conversation_problems, with_calls
from train.tft.context import StageContext, chunks
from train.tft.prompts import (
    ReplyError,
    arbitrate_messages,
    parse_calls,
    parse_choice,
    parse_json_reply,
    relabel_messages,
    reply_text,
)
from train.tft.stage_io import Item, StageRun


def agreement_key(calls: list[ToolCall]) -> tuple:
    return tuple((c.name, None if c.name == RESPOND_TO_USER else tuple(sorted(c.arguments.items()))) for c in calls)


def candidate_from(
    member: str, response: ChatResponse | LLMError, item: Item, tools: list[dict[str, Any]]
) -> tuple[list[ToolCall] | None, str]:
    """(calls, note): calls is None when the member's proposal is unusable; note says why."""
    if isinstance(response, LLMError):
        return None, f"{member}: llm-error: {response}"
    slots = sum(1 for m in item.messages if m.get("role") == "assistant")
    try:
        calls = parse_calls(parse_json_reply(reply_text(response)), slots)
    except ReplyError as exc:
        return None, f"{member}: malformed: {exc}"
    problems = conversation_problems(with_calls(item.messages, calls), tools)
    if problems:
        return None, f"{member}: invalid: {'; '.join(problems[:3])}"
    return calls, f"{member}: valid"


def decide(item: Item, proposals: dict[str, tuple[list[ToolCall] | None, str]]) -> tuple[Item, list]:
    """Item decided without the teacher, or (pending item, candidates) when arbitration is needed."""
    notes = {member: note for member, (_, note) in proposals.items()}
    valid = [(member, calls) for member, (calls, _) in proposals.items() if calls is not None]
    out = Item(item.id, item.messages, meta={**item.meta, "committee": notes})
    if not valid:
        all_failed = all(": llm-error:" in note for note in notes.values())
        code = "llm-error" if all_failed else "no-valid-candidate"
        out.keep, out.reason = False, f"{code}: " + " | ".join(notes.values())
        return out, []
    if len({agreement_key(calls) for _, calls in valid}) == 1:
        member, calls = valid[0]
        out.messages = with_calls(item.messages, calls)
        who = ", ".join(m for m, _ in valid)
        out.reason = f"agreed: {who}" if len(valid) > 1 or len(proposals) == 1 else f"only-valid: {who}"
        out.meta["source"] = member
        return out, []
    return out, valid


def arbitrate(ctx: StageContext, pending: list[tuple[Item, list]]) -> list[Item]:
    teacher = ctx.client(ctx.config.teacher)
    requests = [
        ctx.request(arbitrate_messages(ctx.job.task, ctx.job.tools, item.messages, [c for _, c in cands]))
        for item, cands in pending
    ]
    results = []
    for (item, cands), response in zip(pending, teacher.chat_many(requests), strict=True):
        if isinstance(response, LLMError):
            item.keep, item.reason = False, f"llm-error: teacher: {response}"
        else:
            try:
                reply = parse_json_reply(reply_text(response))
                k = parse_choice(reply, len(cands))
            except ReplyError as exc:
                item.keep, item.reason = False, f"arbitration-malformed: {exc}"
            else:
                member, calls = cands[k]
                item.messages = with_calls(item.messages, calls)
                item.reason = f"arbitrated: teacher chose {member} ({str(reply.get('reason', ''))[:200]})"
                item.meta["source"] = member
        results.append(item)
    return results


def run_relabel(ctx: StageContext, inputs: list[Item], out: StageRun) -> dict[str, Any]:
    members = ctx.config.committee
    clients = {m: ctx.client(m) for m in members}
    todo = [item for item in inputs if item.id not in out.done]
    size = min(c.config.max_concurrency for c in clients.values()) * 2
    arbitrations = 0
    for chunk in chunks(todo, size):
        requests = [ctx.request(relabel_messages(ctx.job.task, ctx.job.tools, i.messages)) for i in chunk]
        # every member works on the chunk at the same time; each client keeps its own limit
        with ThreadPoolExecutor(max_workers=len(members)) as pool:
            futures = {m: pool.submit(clients[m].chat_many, requests) for m in members}
            answers = {m: f.result() for m, f in futures.items()}
        pending = []
        for n, item in enumerate(chunk):
            proposals = {m: candidate_from(m, answers[m][n], item, ctx.job.tools) for m in members}
            decided, candidates = decide(item, proposals)
            if candidates:
                pending.append((decided, candidates))
            else:
                out.write(decided)
        arbitrations += len(pending)
        for item in arbitrate(ctx, pending) if pending else []:
            out.write(item)
    return {"committee": members, "teacher": ctx.config.teacher, "arbitrations": arbitrations}
