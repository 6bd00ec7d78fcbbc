"""Ensembles of tiny models (agent.ensemble, agent.ensemble_lm): the directory format, loading through
load_model, the mean of log-probabilities, greedy batched generate against transformers' own generate
and against a cache-less hand loop, and the hf policy's KV-cache reuse on an ensemble."""

from __future__ import annotations

import json
import re

import pytest
import torch
from transformers import AutoModelForCausalLM

from agent.ensemble import ENSEMBLE_FILE, build_ensemble_dir, is_ensemble_dir, member_dirs
from agent.ensemble_lm import EnsembleLM
from agent.model_loading import ModelLoadError, load_model
from agent.policies.hf import HFPolicy, generate_batch
from agent.resolve import is_model_dir
from agent.tiny import TinyConfig, build_tiny_model
from tests.support.histories import booking_history

SMALL = dict(vocab_size=600, layers=2, hidden=64, heads=2, kv_heads=1)


@pytest.fixture(scope="module")
def second_model_dir(tmp_path_factory):
    """Same tokenizer as tiny_model_dir (BPE training is deterministic), other random weights."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny_b"), TinyConfig(**SMALL, seed=1))


@pytest.fixture(scope="module")
def pair_dir(tiny_model_dir, second_model_dir, tmp_path_factory):
    return build_ensemble_dir(tmp_path_factory.mktemp("pair"), [tiny_model_dir, second_model_dir], tiny_model_dir)


@pytest.fixture(scope="module")
def single_dir(tiny_model_dir, tmp_path_factory):
    return build_ensemble_dir(tmp_path_factory.mktemp("single"), [tiny_model_dir], tiny_model_dir)


def prompts_batch(tokenizer, texts):
    tokenizer.padding_side = "left"
    return tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)


TEXTS = ["I want Thai food in San Jose", "Book a table for two at 7 pm tomorrow at Bangkok Bay, please"]


def test_directory_format(pair_dir, tiny_model_dir, second_model_dir):
    assert (tiny_model_dir / "tokenizer.json").read_text() == (second_model_dir / "tokenizer.json").read_text()
    assert is_ensemble_dir(pair_dir) and not is_ensemble_dir(tiny_model_dir)
    assert [p.name for p in member_dirs(pair_dir)] == ["member-0", "member-1"]
    assert json.loads((pair_dir / ENSEMBLE_FILE).read_text())["combine"] == "mean-logprob"
    assert is_model_dir(pair_dir)


def test_load_model_and_mean_of_log_probabilities(pair_dir, tiny_model_dir, second_model_dir):
    loaded = load_model(str(pair_dir), device="cpu")
    assert isinstance(loaded.model, EnsembleLM)
    assert "ensemble of 2" in loaded.description
    ids = loaded.tokenizer(TEXTS[0], return_tensors="pt", add_special_tokens=False)["input_ids"]
    a = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    b = AutoModelForCausalLM.from_pretrained(second_model_dir).eval()
    with torch.no_grad():
        expected = (torch.log_softmax(a(ids).logits, -1) + torch.log_softmax(b(ids).logits, -1)) / 2
        got = loaded.model(input_ids=ids).logits
    torch.testing.assert_close(got, expected)
    # the two members disagree somewhere, so the mean is not just one of them
    assert not torch.equal(a(ids).logits.argmax(-1), b(ids).logits.argmax(-1))


def test_single_member_generate_equals_transformers_generate(single_dir, tiny_model_dir):
    loaded = load_model(str(single_dir), device="cpu")
    plain = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    enc = prompts_batch(loaded.tokenizer, TEXTS)
    assert enc["attention_mask"][0, 0] == 0  # the shorter prompt is left-padded
    kwargs = dict(max_new_tokens=12, do_sample=False, pad_token_id=loaded.tokenizer.pad_token_id, eos_token_id=[5])
    with torch.no_grad():
        ours = loaded.model.generate(**enc, **kwargs)
        theirs = plain.generate(**enc, **kwargs)
    assert torch.equal(ours, theirs)


def test_pair_generate_equals_a_cacheless_loop(pair_dir):
    loaded = load_model(str(pair_dir), device="cpu")
    model, tok = loaded.model, loaded.tokenizer
    enc = prompts_batch(tok, TEXTS)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=8, pad_token_id=tok.pad_token_id, eos_token_id=[])
        ids, mask = enc["input_ids"], enc["attention_mask"]
        for _ in range(8):  # recompute everything each step: no cache, explicit positions
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            nxt = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits[:, -1].argmax(-1)
            ids = torch.cat([ids, nxt[:, None]], 1)
            mask = torch.cat([mask, torch.ones_like(nxt[:, None])], 1)
    assert torch.equal(out, ids)


def test_generate_stops_and_pads_finished_rows(pair_dir):
    loaded = load_model(str(pair_dir), device="cpu")
    tok, pad = loaded.tokenizer, loaded.tokenizer.pad_token_id
    enc = prompts_batch(tok, TEXTS)
    width = enc["input_ids"].shape[1]
    with torch.no_grad():
        free = loaded.model.generate(**enc, max_new_tokens=6, pad_token_id=pad, eos_token_id=[])[:, width:].tolist()
        stop = free[0][0]  # row 0's first new token becomes the stop token
        out = loaded.model.generate(**enc, max_new_tokens=6, pad_token_id=pad, eos_token_id=[stop])[:, width:].tolist()
    ends = [row.index(stop) + 1 if stop in row else len(row) for row in free]
    expected = [row[:end] + [pad] * (max(ends) - end) for row, end in zip(free, ends, strict=True)]
    assert out == expected  # each row keeps its stop token, is padded after it, and decoding ends with the last row


def test_hf_policy_reuses_the_ensemble_cache(pair_dir):
    loaded = load_model(str(pair_dir), device="cpu")
    reuse = HFPolicy(loaded, max_new_tokens=10, reuse_cache=True)
    fresh = HFPolicy(loaded, max_new_tokens=10, reuse_cache=False)
    msgs = booking_history()[:5]
    points = [i for i, m in enumerate(msgs) if m["role"] == "assistant"] + [len(msgs)]
    cached = []
    for i in points:
        a, b = reuse.next_call(msgs[:i]), fresh.next_call(msgs[:i])
        assert a.raw_text == b.raw_text
        cached.append(a.cached_tokens)
    assert cached[0] == 0 and all(c > 0 for c in cached[1:])
    # the batched eval path decodes the same text
    assert generate_batch(loaded, [msgs], max_new_tokens=10) == [fresh.next_call(msgs).raw_text]


def test_broken_ensembles_fail_with_one_sentence(pair_dir, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / ENSEMBLE_FILE).write_text('{"members": ["member-0"]}')
    for fname in ("tokenizer.json", "tokenizer_config.json"):
        (broken / fname).write_bytes((pair_dir / fname).read_bytes())
    with pytest.raises(ModelLoadError, match="without a model"):
        load_model(str(broken), device="cpu")
    assert not is_model_dir(broken)
    (broken / ENSEMBLE_FILE).write_text(json.dumps({"members": ["m"], "combine": "max"}))
    (broken / "m").mkdir()
    (broken / "m" / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="combine 'max' is unknown"):
        load_model(str(broken), device="cpu")
    (broken / ENSEMBLE_FILE).write_text("{not json")
    with pytest.raises(ModelLoadError, match="not a valid ensemble file"):
        load_model(str(broken), device="cpu")
    with pytest.raises(ModelLoadError, match="without an adapter"):
        load_model(str(pair_dir), adapter=str(pair_dir), device="cpu")


def test_an_ensemble_decodes_grounded(pair_dir):
    """The demo model is a pair by default, and the chat decodes it grounded: the pair's averaged
    log-probabilities go through the same checker, so every value is one the chat grounds."""
    from agent.conversation import user_message
    from tests.agent.test_grounding import GAZ, conversation, grounded_values_ok
    from tests.agent.test_guided import scrambled

    loaded = scrambled(pair_dir)  # both members' weights (EnsembleLM is a module over them): no call free
    policy = HFPolicy(loaded, max_new_tokens=60, grounding=GAZ)
    cities = []
    for chat in (conversation(), [user_message("Thai in Fairfield")]):
        step = policy.next_call(chat)
        assert step.raw_text.startswith("<tool_call>") and grounded_values_ok(step.raw_text, GAZ.candidates(chat))
        # a call cut by max_new_tokens does not parse: read its city values directly
        for city in re.findall(r'"city":\s*"([^"]*)"', step.raw_text):
            assert city in GAZ.candidates(chat)["city"]
            cities.append(city)
    assert cities  # at least one value went through the checker
