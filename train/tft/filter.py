"""Stage 1, Filter: a judge LLM scores each trace's relevance and coherence to the task (1–5).

Traces below `trace_processing.min_relevance_score` / `min_coherence_score` are dropped — kept in
the stage output with the reason and the scores, so a run can be inspected. A judge reply that is
not the asked-for JSON drops the trace with `judge-malformed`; a judge that cannot be reached
(timeouts, HTTP errors) drops it with `llm-error`, which a resumed run asks again.
"""

from __future__ import annotations

from typing import Any

from agent.llm_client import LLMError
from train.tft.context import StageContext, chunks
from train.tft.prompts import ReplyError, filter_messages, parse_json_reply, reply_text
from train.tft.stage_io import Item, StageRun


def parse_scores(text: str) -> tuple[int, int, str]:
    reply = parse_json_reply(text)
    scores = []
    for key in ("relevance", "coherence"):
        try:
            value = int(float(reply[key]))
        except (KeyError, TypeError, ValueError):
            raise ReplyError(f"no numeric {key!r} in reply") from None
        if not 1 <= value <= 5:
            raise ReplyError(f"{key} {value} is outside 1–5")
        scores.append(value)
    return scores[0], scores[1], str(reply.get("reason", ""))[:300]


def judge_item(item: Item, response: Any, min_rel: int, min_coh: int) -> Item:
    out = Item(item.id, item.messages, meta=dict(item.meta))
    if isinstance(response, LLMError):
        out.keep, out.reason = False, f"llm-error: judge: {response}"
        return out
    try:
        relevance, coherence, why = parse_scores(reply_text(response))
    except ReplyError as exc:
        out.keep, out.reason = False, f"judge-malformed: {exc}"
        return out
    out.meta.update(relevance=relevance, coherence=coherence, judge_reason=why)
    if relevance < min_rel:
        out.keep, out.reason = False, f"low-relevance: {relevance} < {min_rel} ({why})"
    elif coherence < min_coh:
        out.keep, out.reason = False, f"low-coherence: {coherence} < {min_coh} ({why})"
    else:
        out.reason = f"ok: relevance {relevance}, coherence {coherence}"
    return out


def run_filter(ctx: StageContext, inputs: list[Item], out: StageRun) -> dict[str, Any]:
    tp = ctx.config.trace_processing
    judge = ctx.client(ctx.config.judge)
    todo = [item for item in inputs if item.id not in out.done]
    for chunk in chunks(todo, judge.config.max_concurrency * 2):
        requests = [ctx.request(filter_messages(ctx.job.task, item.messages)) for item in chunk]
        for item, response in zip(chunk, judge.chat_many(requests), strict=True):
            out.write(judge_item(item, response, tp.min_relevance_score, tp.min_coherence_score))
    return {"judge": ctx.config.judge}
