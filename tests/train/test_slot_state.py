"""Slot-state targets: SGD's annotations become per-token tag targets on exactly the annotated user
words and on the <|im_end|> closing each user turn; both loss paths add the same term, a hand
computation agrees; a run trains the tag rows; bad set-ups fail with one clear error; and every
S1 training conversation gets its annotations from SGD."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from agent.render import render_training_tokens
from agent.trace_io import Trace
from tests.support.short_runs import short_run
from train.config import FinetuneConfig
from train.dataset import PadCollator, TokenizedDataset, build_examples, expand_per_turn
from train.finetune import default_tools, finetune
from train.prefix_sharing import PrefixSharingCollator, prefix_shared_loss
from train.slot_state import (
    META_KEY,
    TAGS,
    attach_slot_state,
    ensure_tag_tokens,
    state_loss,
    state_targets,
    tag_logits,
    user_turn_annotations,
)
from train.trainer import weighted_loss


def sgd_turn(utterance: str, slots: dict[str, str], state: dict[str, str], intent: str = "FindRestaurants") -> dict:
    """A USER turn the way SGD writes it: slot spans by character offsets, the state after the turn."""
    spans = [
        {"slot": slot, "start": utterance.index(value), "exclusive_end": utterance.index(value) + len(value)}
        for slot, value in slots.items()
    ]
    frame = {
        "service": "Restaurants_1",
        "slots": spans,
        "state": {"active_intent": intent, "slot_values": {k: [v] for k, v in state.items()}},
    }
    return {"speaker": "USER", "utterance": utterance, "frames": [frame]}


def annotated(trace: Trace) -> Trace:
    """The conftest conversation (I want C food in X / tool result / Book it for 7 pm / result) annotated."""
    first, booking = trace.messages[0]["content"], trace.messages[4]["content"]
    city = trace.messages[1]["tool_calls"][0]["function"]["arguments"]["city"]
    cuisine = trace.messages[1]["tool_calls"][0]["function"]["arguments"]["cuisine"]
    turns = [
        sgd_turn(first, {"city": city, "cuisine": cuisine}, {"city": city, "cuisine": cuisine}),
        {"speaker": "SYSTEM", "utterance": "ignored", "frames": []},
        sgd_turn(booking, {"time": "7 pm"}, {"city": city, "time": "7 pm"}, "ReserveRestaurant"),
    ]
    return Trace(trace.messages, {**trace.meta, META_KEY: user_turn_annotations(turns)})


def tags_of(mask: int) -> set[str]:
    return {tag for i, tag in enumerate(TAGS) if mask >> i & 1}


def test_annotations_from_an_sgd_dialogue():
    turns = [
        sgd_turn("Thai food in Oakland", {"cuisine": "Thai", "city": "Oakland"}, {"city": "Oakland", "cuisine": "Thai"}),
        {"speaker": "SYSTEM", "utterance": "How about Thai Basil?", "frames": []},
        {"speaker": "USER", "utterance": "Thanks", "frames": [{"service": "Hotels_1", "slots": [], "state": {}}]},
    ]
    first, other_service = user_turn_annotations(turns)
    assert first["text"] == "Thai food in Oakland"
    assert sorted(first["spans"]) == [[0, 4, TAGS.index("cuisine")], [13, 20, TAGS.index("city")]]
    assert first["state"] == [TAGS.index("city"), TAGS.index("cuisine"), TAGS.index("FindRestaurants")]
    assert other_service == {"text": "Thanks", "spans": [], "state": []}  # no Restaurants_1 frame: no tags


def test_targets_sit_on_the_annotated_words_and_the_turn_ends(tiny_model_dir, small_traces):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    trace = annotated(small_traces[0])  # Breakfast food in Fairfield; Book it for 7 pm
    tokens = render_training_tokens(tok, trace.messages, default_tools())
    targets = state_targets(tokens, trace.meta[META_KEY])
    text = {pos: tokens.text[slice(*tokens.offsets[pos])] for pos, _ in targets}
    by_tag: dict[str, str] = {}
    for pos, mask in targets:
        for tag in tags_of(mask):
            by_tag[tag] = by_tag.get(tag, "") + text[pos] + "|"
    assert by_tag["city"].replace("|", "").strip().startswith("Fairfield")
    assert by_tag["cuisine"].replace("|", "").strip().startswith("Breakfast")
    assert "7 pm" in by_tag["time"].replace("|", "")
    ends = [mask for pos, mask in targets if text[pos] == "<|im_end|>"]
    assert [tags_of(m) for m in ends] == [
        {"city", "cuisine", "FindRestaurants"},
        {"city", "time", "ReserveRestaurant"},
    ]
    # every target is inside an annotated user message or its <|im_end|>: never the system prompt, a
    # tool result or an assistant call; untagged words of the message are targets with no tag
    first_user = tokens.text.index("I want")
    assert all(tokens.offsets[pos][0] >= first_user for pos, _ in targets)
    assert all(tokens.labels[pos] == -100 for pos, _ in targets)
    assert not any("restaurant_name" in text[pos] or "FindRestaurants" in text[pos] for pos, _ in targets)
    untagged = "".join(text[pos] for pos, mask in targets if mask == 0 and text[pos] != "<|im_end|>")
    assert "I want" in untagged and "food in" in untagged and "Book it for" in untagged
    # a message whose text no longer matches its annotation (an entity-swapped copy) gets no targets
    changed = [dict(m) for m in trace.messages]
    changed[0]["content"] = "Something else entirely"
    tokens2 = render_training_tokens(tok, changed, default_tools())
    ends2 = [m for p, m in state_targets(tokens2, trace.meta[META_KEY]) if tokens2.text[slice(*tokens2.offsets[p])] == "<|im_end|>"]
    assert [tags_of(m) for m in ends2] == [{"city", "time", "ReserveRestaurant"}]
    assert state_targets(tokens, None) == []


def test_tag_tokens_are_added_once(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    before = len(tok)
    ids = ensure_tag_tokens(tok)
    assert len(tok) == before + len(TAGS) and ids == list(range(before, before + len(TAGS)))
    assert ensure_tag_tokens(tok) == ids and len(tok) == before + len(TAGS)
    assert tok.convert_ids_to_tokens(ids[0]) == "<|tag:city|>"


@pytest.fixture(scope="module")
def state_setup(tiny_model_dir, small_traces):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tag_ids = ensure_tag_tokens(tok)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model.resize_token_embeddings(len(tok))
    traces = [annotated(t) for t in small_traces[:2]]
    examples, _ = build_examples(tok, traces, default_tools(), decision_weight=2.0, slot_state=True)
    data = TokenizedDataset(examples)
    return tok, tag_ids, model, examples, PrefixSharingCollator(tok.pad_token_id)([data[0], data[1]])


def test_targets_reach_the_batch(state_setup):
    tok, _, _, examples, batch = state_setup
    assert all(ex.state for ex in examples)
    dense = batch["state_targets"]
    assert dense.shape == (*batch["input_ids"].shape, len(TAGS))
    for r, ex in enumerate(examples):
        tagged = {pos for pos, _ in ex.state}
        assert {int(p) for p in (dense[r, :, 0] >= 0).nonzero().flatten()} == tagged
        for pos, mask in ex.state:
            assert tags_of(mask) == {TAGS[i] for i in range(len(TAGS)) if dense[r, pos, i] == 1}
    # the shared prefix ends before the first tagged token (its hidden state is needed)
    assert 16 < int(batch["shared_prefix"]) <= min(pos for ex in examples for pos, _ in ex.state)
    # per-turn expansion keeps the targets inside each prefix
    for ex in expand_per_turn(examples):
        assert ex.state and all(pos < len(ex.input_ids) for pos, _ in ex.state)
    plain = PadCollator(tok.pad_token_id)([{"input_ids": [1, 2], "labels": [-100, 2]}])
    assert "state_targets" not in plain


def hand_state_term(model, batch, tag_ids) -> torch.Tensor:
    hidden = model.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    logits = hidden @ model.lm_head.weight[tag_ids].T
    total = torch.tensor(0.0)
    targets = batch["state_targets"]
    for r in range(targets.shape[0]):
        for t in range(targets.shape[1]):
            if targets[r, t, 0] >= 0:
                total += torch.nn.functional.binary_cross_entropy_with_logits(logits[r, t], targets[r, t])
    return total


def test_both_loss_paths_add_the_same_state_term(state_setup):
    _, tag_ids, model, _, batch = state_setup
    inputs = {k: v for k, v in batch.items() if k != "shared_prefix"}
    without = {k: v for k, v in inputs.items() if k != "state_targets"}
    prefix = int(batch["shared_prefix"])
    supervised = (batch["labels"][:, 1:] != -100).sum()
    with torch.no_grad():
        term = hand_state_term(model, batch, tag_ids) / supervised
        shared = prefix_shared_loss(model, inputs, prefix, state=(tag_ids, 0.5)) - prefix_shared_loss(model, without, prefix)
        plain = weighted_loss(model, inputs, state=(tag_ids, 0.5)) - weighted_loss(model, without)
        direct = state_loss(tag_logits(model.model(input_ids=batch["input_ids"]).last_hidden_state, model.lm_head,
                                       tag_ids), batch["state_targets"]) / supervised
    assert term.item() > 0
    assert shared.item() == pytest.approx(0.5 * term.item(), rel=1e-4)
    assert plain.item() == pytest.approx(0.5 * term.item(), rel=1e-4)
    assert direct.item() == pytest.approx(term.item(), rel=1e-4)


def state_term(model_dir, batch) -> float:
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tag_ids = tok.convert_tokens_to_ids([f"<|tag:{t}|>" for t in TAGS])
    with torch.no_grad():
        return hand_state_term(model, batch, tag_ids).item()


def test_a_run_with_state_weight_learns_the_tags(tiny_model_dir, small_traces, tmp_path, state_setup):
    traces = [annotated(t) for t in small_traces]
    batch = state_setup[-1]

    plain, plain_losses = short_run(tiny_model_dir, traces, tmp_path / "plain")
    tagged, tagged_losses = short_run(tiny_model_dir, traces, tmp_path / "tagged", state_weight=2.0)
    assert tagged.metrics["slot_state_conversations"] == 4 and "slot_state_conversations" not in plain.metrics
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    ensure_tag_tokens(tok)
    examples, _ = build_examples(tok, traces, default_tools(), slot_state=True)
    assert tagged.metrics["slot_state_tokens"] == sum(len(ex.state) for ex in examples) > 0
    assert len(tagged_losses) == 8 and tagged_losses[0] > plain_losses[0]  # the logged loss includes the term
    # the saved model and tokenizer carry the tag rows; the tags are learnt
    tok = AutoTokenizer.from_pretrained(tagged.output_dir)
    assert "<|tag:city|>" in tok.get_vocab()
    model = AutoModelForCausalLM.from_pretrained(tagged.output_dir)
    assert model.get_input_embeddings().num_embeddings == len(tok)
    start = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    start.resize_token_embeddings(len(tok))
    with torch.no_grad():
        before = hand_state_term(start, batch, ensure_tag_tokens(AutoTokenizer.from_pretrained(tiny_model_dir)))
    assert state_term(tagged.output_dir, batch) < 0.75 * before.item()


def test_bad_set_ups_fail_clearly(tiny_model_dir, small_traces, tmp_path):
    with pytest.raises(ValueError, match="state_weight needs method: full"):
        FinetuneConfig(model=str(tiny_model_dir), method="lora", state_weight=1.0)
    cfg = FinetuneConfig(model=str(tiny_model_dir), method="full", max_steps=1, progress=False, state_weight=1.0)
    with pytest.raises(ValueError, match="no conversation carries slot-state annotations"):
        finetune(cfg, small_traces, tmp_path / "run")  # plain traces: nothing annotated


@pytest.mark.data
def test_every_s1_training_conversation_is_annotated(data_dir):
    from train.sgd_traces import s1_traces

    sgd_dir = data_dir / "sgd"
    traces = s1_traces(sgd_dir)
    assert attach_slot_state(traces, sgd_dir) == 327
    for trace in traces:
        users = [m["content"] for m in trace.messages if m["role"] == "user" and not m["content"].startswith("[")]
        annotations = trace.meta[META_KEY]
        assert [a["text"] for a in annotations] == users
    # the annotations say what the decisions need: every search follows a turn whose state has city and cuisine
    first = traces[0].meta[META_KEY]
    assert any({TAGS.index("city"), TAGS.index("cuisine")} <= set(a["state"]) for a in first)
    spans = sum(len(a["spans"]) for t in traces for a in t.meta[META_KEY])
    assert spans > 1000
