"""The hf policy on tiny local models: identical outputs with and without KV-cache reuse over a
multi-turn conversation, cache cropping when history changes, streaming, cancellation, batching.
The parrot (tests/support/parrot.py) is a tiny model trained to always answer one fixed call."""

from __future__ import annotations

import threading

import pytest

from agent.conversation import user_message
from agent.model_loading import load_model
from agent.policies.hf import HFPolicy, Sampling, common_prefix_length, generate_batch
from tests.support.histories import booking_history
from tests.support.parrot import PARROT_KW, PARROT_MESSAGE, parrot_model_dir

PARROT = PARROT_KW


history = booking_history


def turns(messages):
    """The prompts of each decision point: every prefix ending before an assistant turn, and the end."""
    points = [i for i, m in enumerate(messages) if m["role"] == "assistant"] + [len(messages)]
    return [messages[:i] for i in points]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return load_model(str(tiny_model_dir), device="cpu")


@pytest.fixture(scope="module")
def parrot_dir(tiny_model_dir, tmp_path_factory):
    return parrot_model_dir(tmp_path_factory, tiny_model_dir)


@pytest.fixture(scope="module")
def parrot(parrot_dir):
    return load_model(str(parrot_dir), device="cpu")


def test_cache_reuse_gives_identical_outputs(tiny):
    reuse = HFPolicy(tiny, max_new_tokens=12, reuse_cache=True)
    fresh = HFPolicy(tiny, max_new_tokens=12, reuse_cache=False)
    for prefix in turns(history()):
        a, b = reuse.next_call(prefix), fresh.next_call(prefix)
        assert a.raw_text == b.raw_text
        assert a.completion_tokens == b.completion_tokens == 12
        assert b.cached_tokens == 0
    # later turns prefilled only their new tokens
    assert a.cached_tokens > 0.8 * a.prompt_tokens
    assert a.prompt_tokens == b.prompt_tokens


def test_edited_history_crops_the_cache(tiny):
    reuse = HFPolicy(tiny, max_new_tokens=8)
    fresh = HFPolicy(tiny, max_new_tokens=8, reuse_cache=False)
    msgs = history()
    long_step = reuse.next_call(msgs)
    edited = [*msgs[:4], user_message("Actually, make it 8pm")]
    a, b = reuse.next_call(edited), fresh.next_call(edited)
    assert a.raw_text == b.raw_text
    assert 0 < a.cached_tokens < long_step.prompt_tokens
    assert reuse._state.ids[: a.prompt_tokens] == reuse.prompt_ids(edited)
    again = reuse.next_call(edited)  # same prompt twice: all but the last prompt token cached
    assert again.cached_tokens == again.prompt_tokens - 1 and again.raw_text == a.raw_text


def test_parrot_answers_streams_and_stops(parrot):
    policy = HFPolicy(parrot, max_new_tokens=80, **PARROT)
    deltas: list[str] = []
    step = policy.next_call([user_message("hello")], on_text=deltas.append)
    assert step.error is None, step.raw_text
    assert step.call.name == "respond_to_user"
    assert step.call.message == PARROT_MESSAGE
    assert "".join(deltas) == PARROT_MESSAGE
    assert len(deltas) > 3  # really incremental
    assert step.raw_text.endswith("</tool_call>")
    assert step.completion_tokens < 80 and step.time_to_first_token_s <= step.latency_s


def test_parrot_multi_turn_reuses_its_own_output(parrot):
    reuse = HFPolicy(parrot, max_new_tokens=80, **PARROT)
    fresh = HFPolicy(parrot, max_new_tokens=80, reuse_cache=False, **PARROT)
    msgs = [user_message("hello")]
    previous_total = 0
    for turn in range(3):
        a, b = reuse.next_call(msgs), fresh.next_call(msgs)
        assert a.raw_text == b.raw_text and a.call is not None
        if turn:
            # the previous prompt and most of the model's own call were served from the cache
            assert a.cached_tokens >= previous_total - 2
        previous_total = a.prompt_tokens + a.completion_tokens
        msgs += [a.call.to_message(), user_message(f"and turn {turn}?")]


def test_cancel_stops_generation(tiny):
    policy = HFPolicy(tiny, max_new_tokens=200)
    cancel = threading.Event()
    cancel.set()
    step = policy.next_call([user_message("hi")], cancel=cancel)
    assert step.cancelled and step.call is None and step.completion_tokens == 0

    cancel = threading.Event()
    seen: list[int] = []
    original = policy._pick

    def pick_then_cancel(logits, text, guide):
        seen.append(1)
        if len(seen) == 5:
            cancel.set()
        return original(logits, text, guide)

    policy._pick = pick_then_cancel
    step = policy.next_call([user_message("hi")], cancel=cancel)
    assert step.cancelled and step.completion_tokens == 5
    policy._pick = original
    after = policy.next_call([user_message("hi")])  # the cache stays consistent after a cancel
    fresh = HFPolicy(tiny, max_new_tokens=200, reuse_cache=False).next_call([user_message("hi")])
    assert after.raw_text == fresh.raw_text


def test_sampling_is_seeded(tiny):
    def run(seed):
        return HFPolicy(tiny, max_new_tokens=10, sampling=Sampling(temperature=1.0, seed=seed)).next_call(
            [user_message("hi")]
        ).raw_text

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_generate_batch_matches_single_decoding(parrot, tiny):
    convs = [[user_message("hello")], history()]
    texts = generate_batch(parrot, convs, max_new_tokens=80, **PARROT)
    singles = [HFPolicy(parrot, max_new_tokens=80, reuse_cache=False, **PARROT).next_call(c).raw_text for c in convs]
    assert texts == singles
    assert texts[0].startswith("<tool_call>")


def test_common_prefix_length():
    assert common_prefix_length([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix_length([1, 2], [1, 2, 3]) == 2
    assert common_prefix_length([], [1]) == 0


def test_lora_adapter_model_reuses_its_cache(tiny_model_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                                LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    peft_model.save_pretrained(tmp_path / "adapter")
    loaded = load_model(str(tiny_model_dir), adapter=str(tmp_path / "adapter"), device="cpu")
    reuse, fresh = HFPolicy(loaded, max_new_tokens=6), HFPolicy(loaded, max_new_tokens=6, reuse_cache=False)
    for prefix in turns(history())[:3]:
        a, b = reuse.next_call(prefix), fresh.next_call(prefix)
        assert a.raw_text == b.raw_text
    assert a.cached_tokens > 0
