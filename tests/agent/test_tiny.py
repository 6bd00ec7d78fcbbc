"""Tiny local models: built in seconds, loadable with from_pretrained, chat template and special tokens."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from agent.tiny import SPECIAL_TOKENS, TinyConfig, build_tiny_model
from cli.main import main


def test_tiny_model_loads_with_auto_classes(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert type(model).__name__ == "Qwen3ForCausalLM"
    assert model.config.vocab_size == len(tok)
    for special in SPECIAL_TOKENS:  # each one is a single token
        assert len(tok(special, add_special_tokens=False)["input_ids"]) == 1
    assert tok.eos_token == "<|im_end|>"
    assert "<think>" in tok.chat_template
    ids = tok("hello <tool_call>", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = model(ids).logits
    assert logits.shape == (1, ids.shape[1], len(tok))


def test_byte_level_round_trip(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    text = 'Café "Zürich" 🍕\n\t{"a": 1}<|im_end|>'
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text


def test_extra_texts_feed_the_tokenizer(tmp_path):
    out = build_tiny_model(
        tmp_path / "m", TinyConfig(vocab_size=400, layers=1, hidden=32, heads=2, kv_heads=1),
        texts=["Zyxwvut Zyxwvut Zyxwvut"] * 50,
    )
    tok = AutoTokenizer.from_pretrained(out)
    assert len(tok.tokenize("Zyxwvut")) <= 2


def test_cli_model_tiny(tmp_path, capsys):
    out = tmp_path / "cli_model"
    rc = main(["model", "tiny", "--out", str(out), "--vocab", "400", "--layers", "1", "--hidden", "32", "--heads", "2"])
    assert rc == 0
    assert "parameters" in capsys.readouterr().out
    assert AutoModelForCausalLM.from_pretrained(out).config.num_hidden_layers == 1


def test_cli_model_tiny_rejects_bad_sizes(tmp_path, capsys):
    rc = main(["model", "tiny", "--out", str(tmp_path / "x"), "--hidden", "30", "--heads", "4"])
    assert rc == 2
    assert "multiple" in capsys.readouterr().err


def test_a_tokenizer_trained_on_rendered_conversations_reads_the_prompt_in_fewer_tokens(tmp_path):
    from agent.render import render_conversation
    from agent.tiny import rendered_corpus
    from agent.tools import tool_schemas
    from tests.train.conftest import conversation

    conversations = [conversation(city, "Thai", f"Place {i}") for i, city in enumerate(["Napa", "Davis"] * 4)]
    texts = rendered_corpus(conversations, tool_schemas())
    assert texts[0].startswith("<|im_start|>system\n") and '"name": "FindRestaurants"' in texts[0]
    config = TinyConfig(vocab_size=2048, layers=1, hidden=32, heads=2, kv_heads=1)
    plain = AutoTokenizer.from_pretrained(build_tiny_model(tmp_path / "plain", config))
    fitted = AutoTokenizer.from_pretrained(build_tiny_model(tmp_path / "fitted", config, texts=texts))
    full = render_conversation(fitted, conversations[0], tool_schemas())
    assert full == texts[0]
    plain_ids, fitted_ids = plain(full)["input_ids"], fitted(full)["input_ids"]
    assert len(fitted_ids) < 0.8 * len(plain_ids), (len(fitted_ids), len(plain_ids))
    assert fitted.decode(fitted_ids) == full


def word_split_and(tmp_path, split: str, cities: list[str]):
    """(conversations, rendered texts, the word-split tokenizer, the `split` one), both trained on the
    same small corpus of rendered conversations."""
    from agent.tiny import rendered_corpus
    from agent.tools import tool_schemas
    from tests.train.conftest import conversation

    conversations = [conversation(city, "Thai", f"Place {i}") for i, city in enumerate(cities * 4)]
    texts = rendered_corpus(conversations, tool_schemas())
    words_config = TinyConfig(vocab_size=2048, layers=1, hidden=32, heads=2, kv_heads=1)
    other_config = words_config.model_copy(update={"pre_tokenizer": split})
    words = AutoTokenizer.from_pretrained(build_tiny_model(tmp_path / "words", words_config, texts=texts))
    other = AutoTokenizer.from_pretrained(build_tiny_model(tmp_path / split, other_config, texts=texts))
    return conversations, texts, words, other


def supervised_texts(conversation, *tokenizers) -> list[str]:
    """The text each tokenizer's loss mask covers in `conversation`."""
    from agent.render import IGNORE_INDEX
    from agent.tools import tool_schemas
    from agent.trace_io import Trace
    from train.dataset import build_examples

    out = []
    for tok in tokenizers:
        (ex,), _ = build_examples(tok, [Trace(conversation)], tool_schemas())
        out.append(tok.decode([t for t, lab in zip(ex.input_ids, ex.labels, strict=True) if lab != IGNORE_INDEX]))
    return out


def test_lines_pre_tokenizer_merges_across_words_keeps_digits_and_the_same_supervised_text(tmp_path):
    conversations, texts, words, lines = word_split_and(tmp_path, "lines", ["Napa", "Davis"])
    full = texts[0]
    word_ids, line_ids = words(full)["input_ids"], lines(full)["input_ids"]
    assert len(line_ids) < 0.6 * len(word_ids), (len(line_ids), len(word_ids))
    assert lines.decode(line_ids) == full
    # the call scaffolding is a token or two, not a dozen
    assert len(lines.tokenize('{"name": "FindRestaurants", "arguments": {"city": "')) <= 2
    assert len(words.tokenize('{"name": "FindRestaurants", "arguments": {"city": "')) >= 10
    # digits stay one token each, so a time is written digit by digit
    pieces = [lines.decode([i]) for i in lines("a table for 12 at 19:30 on 2019-03-01", add_special_tokens=False)["input_ids"]]
    assert all(len(p) == 1 for p in pieces if any(c.isdigit() for c in p)), pieces
    # the loss covers exactly the same text: token boundaries never straddle an assistant turn
    by_words, by_lines = supervised_texts(conversations[0], words, lines)
    assert by_words == by_lines and '"name": "FindRestaurants"' in by_lines


def test_bare_pre_tokenizer_writes_a_value_with_the_same_tokens_in_the_users_words_and_in_the_call(tmp_path):
    conversations, texts, words, bare = word_split_and(tmp_path, "bare", ["Napa", "San Jose"])

    def value_ids(tok, value):
        """The ids of `value` as the user says it and as a call writes it."""
        said = tok(f"I want Izakaya food in {value}", add_special_tokens=False)["input_ids"]
        call = tok(f'{{"city": "{value}", "cuisine": "Izakaya"}}', add_special_tokens=False)["input_ids"]
        return said, call

    def contains(ids, part):
        return any(ids[i : i + len(part)] == part for i in range(len(ids) - len(part) + 1))

    for value in ("San Jose", "Walnut Creek", "Izakaya"):  # seen in training or not
        said, call = value_ids(bare, value)
        ids = bare(value, add_special_tokens=False)["input_ids"]
        assert contains(said, ids) and contains(call, ids), (value, bare.convert_ids_to_tokens(said + call))
    # Qwen's split writes the value's first word with the space in the user's text and without it in
    # the call, so the two differ: what the bare split is for
    said, call = value_ids(words, "San Jose")
    as_said = words(" San Jose", add_special_tokens=False)["input_ids"]
    assert contains(said, as_said) and not contains(call, as_said)
    # lossless, and the loss covers exactly the same text as with the word split
    full = texts[1]
    assert bare.decode(bare(full)["input_ids"]) == full
    by_words, by_bare = supervised_texts(conversations[1], words, bare)
    assert by_words == by_bare and '"city": "San Jose"' in by_bare


def test_cli_model_tiny_lines_tokenizer(tmp_path):
    out = tmp_path / "lines"
    args = ["model", "tiny", "--out", str(out), "--vocab", "400", "--layers", "1", "--hidden", "32", "--heads", "2"]
    assert main([*args, "--tokenizer", "lines"]) == 0
    tok = AutoTokenizer.from_pretrained(out)
    # without a word split, BPE merges the built-in corpus across spaces
    assert any(" " in piece.replace("Ġ", " ").strip() for piece in tok.get_vocab())
