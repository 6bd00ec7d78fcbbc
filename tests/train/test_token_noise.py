"""Context noise: only user text and tool results are replaced (never the system message, a header, a
special token or an assistant call), labels never change, the noise is the same for the same
(seed, epoch, example) and new each epoch, an interrupted run resumes with it exactly, and the
config refuses noise together with the context loss."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

from agent.render import IGNORE_INDEX, RenderConfig, render_training_tokens
from agent.trace_io import Trace
from train.dataset import TokenizedDataset, build_examples
from train.finetune import FinetuneConfig, default_tools, finetune
from train.token_noise import NoisyDataset, noise_mask, replacement_ids, user_content_spans

from .test_context_tokens import conversation
from .test_finetune import Crash, config, losses


def test_the_mask_covers_user_text_and_tool_results_only(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokens = render_training_tokens(tok, conversation(), default_tools(), RenderConfig())
    mask = noise_mask(tokens, set(tok.all_special_ids))
    chosen = "".join(tokens.text[slice(*tokens.offsets[k])] for k, on in enumerate(mask) if on)
    # exactly the two user messages' contents, in order
    contents = [tokens.text[b:e] for b, e in user_content_spans(tokens.text)]
    assert contents == ["Thai food in Oakland please", '[{"restaurant_name": "Thai Basil", "city": "Oakland"}]']
    assert chosen == "".join(contents)
    assert not any(on and lab != IGNORE_INDEX for on, lab in zip(mask, tokens.labels, strict=True))
    assert not any(on and t in tok.all_special_ids for on, t in zip(mask, tokens.input_ids, strict=True))


def test_noise_changes_only_masked_tokens_and_is_fixed_per_epoch(tiny_model_dir):
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    traces = [Trace(conversation(c)) for c in ("Oakland", "San Jose", "Napa")]
    examples, _ = build_examples(tok, traces, default_tools(), context_noise=True)
    clean = TokenizedDataset(examples)
    noisy = NoisyDataset(examples, 0.5, replacement_ids(tok), seed=7)
    changed = total = 0
    for i, ex in enumerate(examples):
        a, b = clean[i], noisy[i]
        assert b["labels"] == a["labels"] and len(b["input_ids"]) == len(a["input_ids"])
        for k, (x, y) in enumerate(zip(a["input_ids"], b["input_ids"], strict=True)):
            if not ex.noise[k]:
                assert x == y  # system message, headers, specials and calls untouched
            else:
                total += 1
                changed += x != y
                assert y not in tok.all_special_ids
        assert noisy[i] == b  # same (seed, epoch, example): same noise
    assert 0.3 < changed / total < 0.7, (changed, total)
    first = [noisy[i]["input_ids"] for i in range(3)]
    noisy.epoch = 1
    assert [noisy[i]["input_ids"] for i in range(3)] != first  # afresh each epoch
    assert NoisyDataset(examples, 0.0, replacement_ids(tok))[0] == clean[0]
    # without the flag, examples carry no mask and nothing is replaced
    plain, _ = build_examples(tok, traces, default_tools())
    assert all(ex.noise is None for ex in plain)
    assert NoisyDataset(plain, 0.5, replacement_ids(tok))[0] == TokenizedDataset(plain)[0]


class NoiseEpochs(TrainerCallback):
    """Records (step, the noise epoch the dataset was in) after every optimizer step."""

    def __init__(self):
        self.seen = []

    def on_step_end(self, args, state, control, train_dataloader=None, **kwargs):
        self.seen.append((state.global_step, train_dataloader.dataset.epoch))


def test_a_noisy_run_trains_and_resumes_exactly(tiny_model_dir, small_traces, short_render, tmp_path):
    ref_dir, run_dir = tmp_path / "ref", tmp_path / "run"
    cfg = config(tiny_model_dir, context_noise=0.3, epochs=3, max_steps=-1)  # 4 traces, batch 2: 6 steps
    epochs = NoiseEpochs()
    ref = finetune(cfg, small_traces, ref_dir, tools=[], render=short_render, callbacks=[epochs])
    assert ref.metrics["global_step"] == 6 and losses(ref_dir)[-1] < losses(ref_dir)[0]
    assert [e for _, e in epochs.seen] == [0, 0, 1, 1, 2, 2]
    # the noise reached training: the same run without it logs other losses
    clean = finetune(config(tiny_model_dir, epochs=3, max_steps=-1), small_traces, tmp_path / "clean", tools=[],
                     render=short_render)
    assert clean.metrics["global_step"] == 6
    assert losses(tmp_path / "clean")[1:] != pytest.approx(losses(ref_dir)[1:], abs=1e-4)
    # interrupted in the second epoch, resumed from the checkpoint at step 3: the same noise, the same run
    with pytest.raises(KeyboardInterrupt):
        finetune(cfg, small_traces, run_dir, tools=[], render=short_render, callbacks=[Crash(4)])
    resumed = NoiseEpochs()
    result = finetune(cfg, small_traces, run_dir, tools=[], render=short_render, callbacks=[resumed])
    assert result.metrics["resumed_from"].endswith("checkpoint-3")
    assert resumed.seen == [(4, 1), (5, 2), (6, 2)]  # mid-epoch resume: the epoch the checkpoint was in
    assert losses(run_dir)[-3:] == pytest.approx(losses(ref_dir)[-3:], abs=1e-5)
    a = AutoModelForCausalLM.from_pretrained(ref.output_dir).state_dict()
    b = AutoModelForCausalLM.from_pretrained(result.output_dir).state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_noise_and_the_context_loss_are_refused_together(tiny_model_dir):
    with pytest.raises(ValueError, match="context_noise and context_weight"):
        FinetuneConfig(model=str(tiny_model_dir), context_noise=0.1, context_weight=0.5)
    with pytest.raises(ValueError):
        FinetuneConfig(model=str(tiny_model_dir), context_noise=1.0)
    assert json.loads(FinetuneConfig(model="m", context_noise=0.2).model_dump_json())["context_noise"] == 0.2
