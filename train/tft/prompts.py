"""Prompts for the judge (filter), the committee (relabel), the teacher (arbitration, synthesis),
and tolerant parsing of their JSON replies.

Every prompt asks for one JSON object and says exactly which keys; `parse_json_reply` accepts that
object wrapped in prose, code fences or a `<think>` block (big models add them anyway) and raises
`ReplyError` with a short reason otherwise, which the stages record instead of crashing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agent.conversation import Message, ToolCall

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


class ReplyError(ValueError):
    """An LLM reply that is not the JSON object the prompt asked for."""


def reply_text(response: Any) -> str:
    """The text of a ChatResponse. A model behind `resto serve` (fine-tuned to always call a tool)
    answers with a tool call instead: respond_to_user's message, else the call's JSON, is its text."""
    if response.text and response.text.strip():
        return response.text
    for call in response.tool_calls:
        return call.message if call.message is not None else json.dumps({"name": call.name, **call.arguments})
    return ""


def parse_json_reply(text: str) -> dict[str, Any]:
    text = _THINK.sub("", text or "").strip()
    if not text:
        raise ReplyError("empty reply")
    decoder = json.JSONDecoder()
    for start in [m.start() for m in re.finditer(r"\{", text)][:50]:
        try:
            obj, _ = decoder.raw_decode(text, start)
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(obj, dict):
            return obj
    raise ReplyError(f"no JSON object in reply: {text[:120]!r}")


def is_result_message(message: Message) -> bool:
    """A tool result: a `tool` message, or (benchmark format) a user message holding a JSON list."""
    if message.get("role") == "tool":
        return True
    content = message.get("content")
    if message.get("role") != "user" or not isinstance(content, str) or not content.lstrip().startswith("["):
        return False
    try:
        return isinstance(json.loads(content), list)
    except json.JSONDecodeError:
        return False


def render_conversation(messages: list[Message], hide_calls: bool = False) -> str:
    """Numbered, readable transcript. With hide_calls, assistant turns become slots A1, A2, …
    showing the original (possibly wrong) label for reference."""
    lines, slot = [], 0
    for msg in messages:
        if msg.get("role") == "assistant" and msg.get("tool_calls"):
            slot += 1
            call = ToolCall.from_message(msg)
            shown = f"{call.name} {json.dumps(call.arguments)}"
            if hide_calls:
                lines.append(f"A{slot} ASSISTANT: <to label> (original label, may be wrong: {shown})")
            else:
                lines.append(f"ASSISTANT calls {shown}")
        elif is_result_message(msg):
            lines.append(f"TOOL RESULT: {msg.get('content')}")
        elif msg.get("role") == "system":
            continue
        else:
            lines.append(f"USER: {msg.get('content')}")
    return "\n".join(lines)


def _tools_text(tools: list[dict[str, Any]]) -> str:
    return json.dumps(tools, indent=1)


# -- filter (judge) ---------------------------------------------------------------------------
def filter_messages(task: str, messages: list[Message]) -> list[Message]:
    return [
        {"role": "system", "content": "You judge the quality of recorded conversations used as training context. "
         "Reply with one JSON object and nothing else."},
        {"role": "user", "content": (
            f"# Task of the assistant\n{task}\n\n# Conversation\n{render_conversation(messages)}\n\n"
            "Score the conversation from 1 (worst) to 5 (best):\n"
            "- relevance: is it about this task and its tools (not another domain)?\n"
            "- coherence: do the turns follow each other sensibly (messages answer what was said, "
            "results follow searches and bookings)?\n"
            'Reply exactly: {"relevance": <1-5>, "coherence": <1-5>, "reason": "<one sentence>"}'
        )},
    ]


# -- relabel (committee) ----------------------------------------------------------------------
def relabel_messages(task: str, tools: list[dict[str, Any]], messages: list[Message]) -> list[Message]:
    slots = sum(1 for m in messages if m.get("role") == "assistant")
    return [
        {"role": "system", "content": f"{task}\n\n# Tools\n{_tools_text(tools)}"},
        {"role": "user", "content": (
            "Below is a recorded conversation. The assistant's calls (A1…) may be wrong: another "
            "domain's messages, calls with arguments from another conversation, swapped functions. "
            "Write the correct call for every assistant turn, using only the tools above, with "
            "arguments taken from what the user said and from earlier tool results. A turn followed "
            "by a TOOL RESULT must be the service call that produced it.\n\n"
            f"{render_conversation(messages, hide_calls=True)}\n\n"
            f'Reply with exactly {slots} calls: {{"calls": [{{"turn": "A1", "name": "<function>", '
            '"arguments": {…}}, …]}'
        )},
    ]


def parse_calls(reply: dict[str, Any], expected: int) -> list[ToolCall]:
    calls = reply.get("calls")
    if not isinstance(calls, list):
        raise ReplyError("reply has no 'calls' list")
    if len(calls) != expected:
        raise ReplyError(f"reply has {len(calls)} calls for {expected} assistant turns")
    out = []
    for i, raw in enumerate(calls):
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise ReplyError(f"call {i + 1} has no name")
        args = raw.get("arguments", raw.get("parameters", {}))
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                raise ReplyError(f"call {i + 1} arguments are not JSON") from None
        if not isinstance(args, dict):
            raise ReplyError(f"call {i + 1} arguments are not an object")
        out.append(ToolCall(raw["name"], args))
    return out


# -- arbitration (teacher) --------------------------------------------------------------------
def arbitrate_messages(
    task: str, tools: list[dict[str, Any]], messages: list[Message], candidates: list[list[ToolCall]]
) -> list[Message]:
    blocks = []
    for k, calls in enumerate(candidates, start=1):
        rows = "\n".join(f"  A{i}: {c.name} {json.dumps(c.arguments)}" for i, c in enumerate(calls, start=1))
        blocks.append(f"C{k}:\n{rows}")
    return [
        {"role": "system", "content": f"{task}\n\n# Tools\n{_tools_text(tools)}"},
        {"role": "user", "content": (
            "Several annotators labelled the assistant turns of this conversation.\n\n"
            f"{render_conversation(messages, hide_calls=True)}\n\n# Candidate labellings\n"
            + "\n".join(blocks)
            + '\n\nPick the most correct candidate. Reply exactly: {"choice": "C<k>", "reason": "<one sentence>"}'
        )},
    ]


def parse_choice(reply: dict[str, Any], n: int) -> int:
    raw = str(reply.get("choice", "")).strip().upper().lstrip("C")
    if not raw.isdigit() or not 1 <= int(raw) <= n:
        raise ReplyError(f"choice {reply.get('choice')!r} is not one of C1…C{n}")
    return int(raw) - 1


# -- synthesis (teacher) ----------------------------------------------------------------------
SYNTH_FORMAT = (
    'Each conversation is {"messages": [...]} with messages of three kinds, in order:\n'
    '- {"role": "user", "content": "<what the user says>"}\n'
    '- {"role": "assistant", "name": "<function>", "arguments": {...}}  (exactly one call per turn)\n'
    '- {"role": "tool_result", "results": [ {...}, ... ]}  (right after every FindRestaurants / '
    "ReserveRestaurant call; results look like the examples' results)\n"
    "The conversation starts with the user; after a tool result the assistant acts again; after "
    "respond_to_user the user speaks next."
)


def synth_messages(
    task: str,
    tools: list[dict[str, Any]],
    seeds: list[list[Message]],
    unlabelled: list[list[Message]],
    topic: str | None,
    count: int,
    call_index: int,
    catalog: list[dict[str, Any]] | None = None,
) -> list[Message]:
    parts = [f"# Examples of correct conversations ({len(seeds)})"]
    parts += [f"## Example {i}\n{render_conversation(m)}" for i, m in enumerate(seeds, start=1)]
    if unlabelled:
        parts.append("# Real user conversations (their assistant turns may be wrong; use them for what "
                     "users ask and how they talk)")
        parts += [f"## Real conversation {i}\n{render_conversation(m)}" for i, m in enumerate(unlabelled, start=1)]
    if catalog:
        # Without this the teacher invents restaurants, and Validate (which executes every call
        # against the database) drops the conversation.
        parts.append(
            "# Restaurants in the database\nTool results must use only these rows, unchanged: a "
            "FindRestaurants result lists the rows matching its city and cuisine (or [] if none), and "
            "ReserveRestaurant succeeds only for these restaurants.\n" + "\n".join(json.dumps(r) for r in catalog)
        )
    if topic:
        parts.append(f"# Variation to apply\n{topic}")
    parts.append(
        f"# Your job (request #{call_index})\nWrite {count} new, different, realistic conversation(s) "
        f"between a user and the assistant.\n{SYNTH_FORMAT}\n"
        'Reply with one JSON object: {"conversations": [{"messages": [...]}, ...]}'
    )
    return [
        {"role": "system", "content": f"You write training data for this assistant.\n\n{task}\n\n"
         f"# Tools\n{_tools_text(tools)}"},
        {"role": "user", "content": "\n\n".join(parts)},
    ]
