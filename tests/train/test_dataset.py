import pytest
from transformers import AutoTokenizer

from agent.conversation import tool_calls, user_message
from agent.render import IGNORE_INDEX, MaskError
from agent.trace_io import Trace
from train.dataset import Example, PadCollator, build_examples, expand_per_turn, preflight


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_loss_only_on_assistant_calls(tokenizer, small_traces, short_render):
    examples, report = build_examples(tokenizer, small_traces, None, short_render)
    assert report.examples == 4 and report.supervised_tokens < report.tokens
    ex = examples[0]
    runs, cur = [], []
    for tok, lab in zip(ex.input_ids, ex.labels, strict=True):
        if lab != IGNORE_INDEX:
            cur.append(tok)
        elif cur:
            runs.append(cur)
            cur = []
    assert len(runs) == 4  # the conversation's four assistant calls, one forward pass
    texts = [tokenizer.decode(r) for r in runs]
    # exactly each call as the model writes it, plus its end of turn: no user text, no tool result
    expected = [c.to_text() + "<|im_end|>" for c in tool_calls(small_traces[0].messages)]
    assert [t.strip() for t in texts] == expected


def test_preflight_fails_on_empty_mask(tokenizer, short_render):
    with pytest.raises(MaskError, match="conversation 0"):
        build_examples(tokenizer, [Trace([user_message("hello")])], None, short_render)


def test_preflight_fails_when_mask_covers_user_tokens(tokenizer, small_traces, short_render):
    examples, _ = build_examples(tokenizer, small_traces[:1], None, short_render)
    bad = Example(examples[0].input_ids, list(examples[0].input_ids))  # everything supervised
    with pytest.raises(MaskError, match="example 1"):
        preflight(tokenizer, [examples[0], bad])
    with pytest.raises(MaskError, match="no training examples"):
        preflight(tokenizer, [])


def test_too_long_conversations_are_dropped_and_counted(tokenizer, small_traces, short_render):
    examples, report = build_examples(tokenizer, small_traces, None, short_render, max_length=50)
    assert examples == [] and report.too_long == [0, 1, 2, 3]


def test_per_turn_expansion_keeps_the_supervised_tokens(tokenizer, small_traces, short_render):
    examples, report = build_examples(tokenizer, small_traces, None, short_render)
    expanded = expand_per_turn(examples)
    assert len(expanded) == 16
    assert sum(e.supervised for e in expanded) == report.supervised_tokens
    assert sum(len(e.input_ids) for e in expanded) > report.tokens
    batch = PadCollator(0)([{"input_ids": e.input_ids, "labels": e.labels} for e in expanded[:2]])
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    assert int(batch["attention_mask"][0].sum()) == len(expanded[0].input_ids)
