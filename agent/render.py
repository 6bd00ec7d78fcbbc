"""The one prompt renderer of resto, used for inference (hf policy, serve) and for training.

    from agent.render import RenderConfig, render_prompt, render_training_example
    text = render_prompt(tokenizer, messages, tool_schemas(), RenderConfig())

What a prompt looks like (Qwen3's tool-calling layout, thinking off):

    <|im_start|>system
    You are a tool-calling model working on the following task ... <task_description>…</task_description> …
    # Tools … <tools>{json schema per line}</tools> …<|im_end|>
    <|im_start|>user
    …<|im_end|>
    <|im_start|>assistant
    <think>

    </think>

    <tool_call>
    {"name": "FindRestaurants", "arguments": {"city": "…", "cuisine": "…"}}
    </tool_call><|im_end|>
    <|im_start|>user
    [{"restaurant_name": …}]<|im_end|>          (a tool result as the next user message, by default)
    <|im_start|>assistant
    <think>

    </think>

                                                   (the model writes its call here)

The chat template is `agent/templates/qwen3_prefix_stable.jinja` (written for this project; see its
header for the one difference from Qwen3's stock template, which makes turn N a token prefix of
turn N+1 so the hf policy can reuse its KV cache). `RenderConfig(chat_template="tokenizer")` uses
the tokenizer's own template instead.

The system prompt follows Distil Labs' public tool-calling clients (which the released TFT models
were most likely evaluated with): the task description in <task_description> tags and the
instruction to answer with exactly one tool call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.conversation import Message, normalize_messages

TEMPLATES_DIR = Path(__file__).parent / "templates"
PREFIX_STABLE_TEMPLATE = TEMPLATES_DIR / "qwen3_prefix_stable.jinja"
IGNORE_INDEX = -100

# The TFT benchmark's task description (job_description.json → task_description, identical in every
# scenario's tft/ folder). Kept here so the app needs no data directory to build its prompt.
BENCHMARK_TASK_DESCRIPTION = """\
You are a virtual assistant for a restaurant search and reservation service. Given a conversation with a user, call the appropriate function to find restaurants matching the user's preferences or to reserve a table at a restaurant. Use the conversation history to determine which function to call and what parameters to use based on the information the user has provided. When you call a service function (e.g. FindRestaurants, ReserveRestaurant), the user will provide the results from the tool call in their next message. When you need to ask the user a question, provide information, or confirm details, use the respond_to_user function. The respond_to_user function has no return value — the user will follow up with their next message in the conversation.

Key decision: at each turn, decide whether to call a service function or respond_to_user. Call FindRestaurants as soon as the user has provided enough information (at minimum: city and cuisine). Do not ask unnecessary clarifying questions if the user has already given enough to search. Call ReserveRestaurant once the user confirms they want to book and has provided the required parameters (restaurant_name, city, time).

Conversations vary in structure. Some patterns:
- Short: user provides city+cuisine upfront, FindRestaurants is called within 1-3 turns
- Medium: user needs a few exchanges to narrow down preferences before FindRestaurants at turns 3-7
- Full flow: user explores options, FindRestaurants, discusses results, then ReserveRestaurant, spanning 15-25 turns
- Multiple searches: user is not satisfied with first results, triggers FindRestaurants again with different parameters

Generate diverse examples covering all these patterns, not just the longest conversations."""

# Shaped like Distil Labs' public tool-calling clients' system message.
DEFAULT_SYSTEM_TEMPLATE = """\
You are a tool-calling model working on:
<task_description>{task_description}</task_description>

Respond to the conversation history by generating an appropriate tool call that satisfies the user request. \
Generate only the tool call according to the provided tool schema, do not generate anything else. \
Always respond with a tool call.
"""


class RenderConfig(BaseModel):
    """How conversations become model input. Passed explicitly to every renderer call."""

    system_template: str = Field(
        default=DEFAULT_SYSTEM_TEMPLATE,
        description="System prompt; `{task_description}` is replaced by the task description.",
    )
    task_description: str = Field(
        default=BENCHMARK_TASK_DESCRIPTION, description="The task the model works on (job_description.json)."
    )
    tool_result_role: Literal["user", "tool"] = Field(
        default="user",
        description="How tool results are shown: `user` (benchmark format, json list as the next user "
        "message) or `tool` (Qwen3's <tool_response>). Messages are rendered as given; this field tells "
        "the loop and the data builders which form to produce.",
    )
    enable_thinking: bool = Field(
        default=False, description="Qwen3 thinking mode. Off: an empty <think> block precedes every call."
    )
    chat_template: str = Field(
        default="prefix_stable",
        description="`prefix_stable` (the project's template), `tokenizer` (the tokenizer's own), "
        "or a path to a .jinja file.",
    )

    def system_prompt(self) -> str:
        return self.system_template.replace("{task_description}", self.task_description)


def system_prompt(task_description: str | None = None, template: str = DEFAULT_SYSTEM_TEMPLATE) -> str:
    """The system message text; the benchmark's task description by default."""
    return template.replace("{task_description}", task_description or BENCHMARK_TASK_DESCRIPTION)


def load_task_description(job_description_path: str | Path) -> str:
    """The `task_description` of a TFT job_description.json."""
    data = json.loads(Path(job_description_path).read_text())
    return data["task_description"]


@lru_cache(maxsize=8)
def _read_template(path: str) -> str:
    return Path(path).read_text()


def chat_template_text(config: RenderConfig, tokenizer: Any = None) -> str | None:
    """The Jinja source to render with (None = the tokenizer's own template)."""
    if config.chat_template == "tokenizer":
        return None
    if config.chat_template == "prefix_stable":
        return _read_template(str(PREFIX_STABLE_TEMPLATE))
    return _read_template(config.chat_template)


def with_system(messages: list[Message], config: RenderConfig) -> list[Message]:
    """Normalized messages with the configured system message first (an existing one is replaced)."""
    msgs = normalize_messages(messages)
    if msgs and msgs[0].get("role") == "system":
        msgs = msgs[1:]
    return [{"role": "system", "content": config.system_prompt()}, *msgs]


def _apply(tokenizer: Any, messages: list[Message], tools: list[dict] | None, config: RenderConfig, gen: bool) -> str:
    return tokenizer.apply_chat_template(
        messages,
        tools=tools or None,
        chat_template=chat_template_text(config, tokenizer),
        add_generation_prompt=gen,
        tokenize=False,
        enable_thinking=config.enable_thinking,
    )


def render_prompt(
    tokenizer: Any, messages: list[Message], tools: list[dict] | None, config: RenderConfig | None = None
) -> str:
    """The model input for deciding the next call: system + history + the assistant generation prompt."""
    config = config or RenderConfig()
    return _apply(tokenizer, with_system(messages, config), tools, config, gen=True)


def render_conversation(
    tokenizer: Any, messages: list[Message], tools: list[dict] | None, config: RenderConfig | None = None
) -> str:
    """The whole conversation as text, without a generation prompt."""
    config = config or RenderConfig()
    return _apply(tokenizer, with_system(messages, config), tools, config, gen=False)


def encode(tokenizer: Any, text: str) -> list[int]:
    """Token ids of rendered text (special tokens are in the text already: none are added)."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def render_ids(
    tokenizer: Any, messages: list[Message], tools: list[dict] | None, config: RenderConfig | None = None
) -> list[int]:
    return encode(tokenizer, render_prompt(tokenizer, messages, tools, config))


class MaskError(ValueError):
    """A training example whose loss mask is empty or covers tokens the model must not learn to write."""


@dataclass
class TrainingTokens:
    """A rendered conversation for training: ids, labels (-100 outside assistant outputs), and where
    each token and each assistant output lie in the rendered `text` (for per-token loss weights)."""

    input_ids: list[int]
    labels: list[int]
    text: str
    offsets: list[tuple[int, int]]  # character span of each token in `text`
    spans: list[tuple[int, int]]  # character span of each assistant output (call + <|im_end|>)


def render_training_tokens(
    tokenizer: Any, messages: list[Message], tools: list[dict] | None, config: RenderConfig | None = None
) -> TrainingTokens:
    """The whole conversation with every assistant turn's output (the tool call and its <|im_end|>)
    labelled, so one pass supervises all turns.

    The supervised span of assistant message i is found in text: it starts where the generation
    prompt of messages[:i] ends and stops after the <|im_end|> of messages[:i+1]; the template's
    prefix stability is what makes those offsets valid in the full rendering (checked here).
    """
    config = config or RenderConfig()
    msgs = with_system(messages, config)
    full = _apply(tokenizer, msgs, tools, config, gen=False)
    spans: list[tuple[int, int]] = []
    for i, msg in enumerate(msgs):
        if msg.get("role") != "assistant":
            continue
        prompt = _apply(tokenizer, msgs[:i], tools, config, gen=True)
        upto = _apply(tokenizer, msgs[: i + 1], tools, config, gen=False)
        if not full.startswith(prompt) or not full.startswith(upto):
            raise MaskError(
                "the chat template is not prefix-stable, so the turns cannot be located in the "
                "conversation; use RenderConfig(chat_template='prefix_stable')"
            )
        end_marker = upto.rfind("<|im_end|>")
        if end_marker < len(prompt):
            raise MaskError(f"assistant message {i} has no <|im_end|> in its rendering")
        spans.append((len(prompt), end_marker + len("<|im_end|>")))
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    input_ids = list(enc["input_ids"])
    offsets = [tuple(o) for o in enc["offset_mapping"]]
    labels = [IGNORE_INDEX] * len(input_ids)
    for k, (start, end) in enumerate(offsets):
        if end <= start:
            continue
        if any(s <= start and end <= e for s, e in spans):
            labels[k] = input_ids[k]
    check_mask(tokenizer, input_ids, labels)
    return TrainingTokens(input_ids, labels, full, offsets, spans)


def render_training_example(
    tokenizer: Any, messages: list[Message], tools: list[dict] | None, config: RenderConfig | None = None
) -> tuple[list[int], list[int]]:
    """(input_ids, labels) of `render_training_tokens`."""
    tokens = render_training_tokens(tokenizer, messages, tools, config)
    return tokens.input_ids, tokens.labels


def check_mask(tokenizer: Any, input_ids: list[int], labels: list[int]) -> None:
    """Pre-flight for training data: raise MaskError when the mask is empty, when a label differs from
    its input token, when a supervised run does not end with <|im_end|>, or when supervised tokens
    include turn headers, user text or tool results."""
    if len(input_ids) != len(labels):
        raise MaskError(f"{len(input_ids)} input ids but {len(labels)} labels")
    runs: list[list[int]] = []
    prev = False
    for tok, lab in zip(input_ids, labels, strict=True):
        on = lab != IGNORE_INDEX
        if on and lab != tok:
            raise MaskError("a label differs from its input token")
        if on:
            if not prev:
                runs.append([])
            runs[-1].append(tok)
        prev = on
    if not runs:
        raise MaskError("the loss mask is empty: the example has no assistant turn")
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    forbidden = {tokenizer.convert_tokens_to_ids(t) for t in ("<|im_start|>", "<tool_response>", "</tool_response>")}
    for run in runs:
        if run[-1] != im_end or run.count(im_end) != 1:
            raise MaskError("a supervised span does not end with exactly one <|im_end|>")
        if forbidden.intersection(run):
            text = tokenizer.decode(run)
            raise MaskError(f"the mask covers a turn header or a tool result: {text[:120]!r}")
