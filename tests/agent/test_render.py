"""The renderer: system prompt shape, Qwen3 layout, token-prefix stability across turns (over real
benchmark conversations when the data dir is set), and training masks covering exactly the calls."""

from __future__ import annotations

import json

import pytest
from transformers import AutoTokenizer

from agent.conversation import ToolCall, result_message, user_message
from agent.render import (
    IGNORE_INDEX,
    MaskError,
    RenderConfig,
    check_mask,
    encode,
    load_task_description,
    render_conversation,
    render_ids,
    render_prompt,
    render_training_example,
    system_prompt,
)
from agent.tools import tool_schemas
from agent.trace_io import read_traces


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def conversation(role: str = "user") -> list[dict]:
    find = ToolCall("FindRestaurants", {"city": "San Jose", "cuisine": "Italian"})
    return [
        user_message("Find me Italian food in San Jose"),
        find.to_message(),
        result_message([{"restaurant_name": "Pasta Bella", "city": "San Jose"}], role, find.id),
        ToolCall("respond_to_user", {"message": 'Pasta Bella is nice. "Book" it?'}).to_message(),
        user_message("Yes, 7 pm please"),
        ToolCall("ReserveRestaurant", {"restaurant_name": "Pasta Bella", "city": "San Jose", "time": "19:00"}).to_message(),
        result_message([], role, "x"),
        ToolCall("respond_to_user", {"message": "Booked ✓"}).to_message(),
    ]


def assert_prefix_stable(tok, messages, config):
    """ids(prompt for the turn at assistant index i) is a token prefix of every later prompt, and of the
    whole conversation."""
    tools = tool_schemas()
    full = encode(tok, render_conversation(tok, messages, tools, config))
    points = [i for i, m in enumerate(messages) if m["role"] == "assistant"] + [len(messages)]
    prompts = [render_ids(tok, messages[:i], tools, config) for i in points]
    for a, b in zip(prompts, prompts[1:], strict=False):
        assert b[: len(a)] == a
    for ids in prompts[:-1]:
        assert full[: len(ids)] == ids


def test_system_prompt_shape():
    text = system_prompt("Book tables.")
    assert "tool-calling model" in text
    assert "<task_description>Book tables.</task_description>" in text
    assert "only the tool call" in text
    assert "<task_description>You are a virtual assistant for a restaurant" in system_prompt()


def test_task_description_matches_benchmark(benchmark_dir):
    path = benchmark_dir / "scenario-1-baseline" / "tft" / "job_description.json"
    assert RenderConfig().task_description == load_task_description(path)


def test_prompt_layout(tok):
    text = render_prompt(tok, conversation()[:3], tool_schemas(), RenderConfig(task_description="T"))
    assert text.startswith("<|im_start|>system\nYou are a tool-calling model")
    assert "# Tools" in text and '"name": "FindRestaurants"' in text
    assert '<tool_call>\n{"name": "FindRestaurants", "arguments": {"city": "San Jose", "cuisine": "Italian"}}\n</tool_call><|im_end|>' in text
    assert text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    tool_text = render_prompt(tok, conversation("tool")[:3], tool_schemas(), RenderConfig())
    assert "<|im_start|>user\n<tool_response>\n[{" in tool_text


@pytest.mark.parametrize("role", ["user", "tool"])
def test_prefix_stable_on_a_full_conversation(tok, role):
    assert_prefix_stable(tok, conversation(role), RenderConfig(tool_result_role=role))


@pytest.mark.data
def test_prefix_stable_on_benchmark_conversations(tok, benchmark_dir):
    traces, _ = read_traces(benchmark_dir / "scenario-1-baseline" / "tft" / "traces.jsonl")
    for trace in traces[:15]:
        assert_prefix_stable(tok, trace.messages, RenderConfig())


def test_string_and_dict_arguments_render_the_same(tok):
    msgs = conversation()
    as_strings = json.loads(json.dumps(msgs))
    for m in as_strings:
        for call in m.get("tool_calls") or []:
            call["function"]["arguments"] = json.dumps(call["function"]["arguments"])
    assert render_prompt(tok, msgs, tool_schemas()) == render_prompt(tok, as_strings, tool_schemas())


def test_training_mask_covers_exactly_the_calls(tok):
    msgs = conversation()
    ids, labels = render_training_example(tok, msgs, tool_schemas())
    assert len(ids) == len(labels)
    supervised = [i for i, label in enumerate(labels) if label != IGNORE_INDEX]
    runs, run = [], []
    for k in range(len(ids)):
        if labels[k] != IGNORE_INDEX:
            run.append(ids[k])
        elif run:
            runs.append(run)
            run = []
    expected = [ToolCall.from_message(m).to_text() for m in msgs if m["role"] == "assistant"]
    assert [tok.decode(r) for r in runs] == [text.replace("\\u2713", "✓") + "<|im_end|>" for text in expected]
    assert all(labels[i] == ids[i] for i in supervised)


def test_check_mask_rejects_bad_masks(tok):
    ids, labels = render_training_example(tok, conversation(), tool_schemas())
    with pytest.raises(MaskError, match="empty"):
        check_mask(tok, ids, [IGNORE_INDEX] * len(ids))
    with pytest.raises(MaskError):
        check_mask(tok, ids, list(ids))  # everything supervised: headers and tool results too
    with pytest.raises(MaskError):
        render_training_example(tok, [user_message("hi")], tool_schemas())


def test_stock_style_template_is_refused_for_training(tok):
    # A template that drops the think block from history (as Qwen3's stock one does) is not prefix-stable.
    stock_like = (
        "{%- for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content if m.content is string else '' }}"
        "{%- for c in m.tool_calls or [] %}<tool_call>{{ c.function.name }}</tool_call>{%- endfor %}<|im_end|>\n"
        "{%- endfor %}{%- if add_generation_prompt %}<|im_start|>assistant\n<think>\n\n</think>\n\n{%- endif %}"
    )
    tok2 = AutoTokenizer.from_pretrained(tok.name_or_path)
    tok2.chat_template = stock_like
    with pytest.raises(MaskError, match="prefix-stable"):
        render_training_example(tok2, conversation(), tool_schemas(), RenderConfig(chat_template="tokenizer"))
