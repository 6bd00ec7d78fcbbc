"""Tiny local Qwen3 models, so the whole runtime (and training) is exercised without the hub.

    resto model tiny --out DIR [--vocab 2048 --layers 4 --hidden 256]

`build_tiny_model(out_dir, config)` writes a byte-level BPE tokenizer (trained with `tokenizers` on
SGD / trace text when a data directory is given, else on a small built-in corpus plus any texts
passed in), with Qwen3's chat special tokens and the project's chat template, and a random-init
`Qwen3ForCausalLM`. Both load with `AutoTokenizer.from_pretrained(DIR)` /
`AutoModelForCausalLM.from_pretrained(DIR)`. The default size is about 4M parameters, which the
training issue turns into the offline demo model; tests use a much smaller one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.render import BENCHMARK_TASK_DESCRIPTION, DEFAULT_SYSTEM_TEMPLATE, PREFIX_STABLE_TEMPLATE

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<think>",
    "</think>",
]
# Qwen2/Qwen3's pre-tokenizer split, so tiny models tokenize text the way the real ones do
# (in particular, newlines and spaces around special tokens).
QWEN_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# "lines": pieces end only at line breaks and digits, so merges may span words and JSON punctuation.
# The tool-call scaffolding (`{"name": "respond_to_user", "arguments": {"message": "`) and the system
# prompt's lines become a few tokens each, and a rendered S1 conversation drops from 1,943 to 842
# tokens at a 2,048 vocabulary (bench/tokenizer_fit.py). Digits stay one token each, as in Qwen.
# Faster to train, but the demo model scored lower with it, also at equal epochs (README, train).
LINES_SPLIT_PATTERN = r"\r?\n|\p{N}"
# "bare": Qwen's split, except that a word never carries the character before it. With Qwen's split
# the user's "in San Jose" reads `ĠSan ĠJose` but the call's `"city": "San Jose"` reads `Ġ" San ĠJose`:
# the first word of every value is a different token in the call than in the conversation, so a model
# can only copy a value it has learnt the pair for. With bare words both read `San Ġ Jose`, and copying
# is the identity for any value, seen in training or not. The price is a token per space before a word.
BARE_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SPLIT_PATTERNS = {"words": QWEN_SPLIT_PATTERN, "lines": LINES_SPLIT_PATTERN, "bare": BARE_SPLIT_PATTERN}
PreTokenizer = Literal["words", "lines", "bare"]

BUILTIN_CORPUS = [
    "I am looking for a restaurant in San Jose that serves Italian food.",
    "Can you book a table for 2 at 7:30 pm tomorrow? Yes, please go ahead.",
    "What is the phone number and address? Do they serve alcohol or have live music?",
    "Find me a cheap Mexican place in Oakland. Something moderate priced in Berkeley.",
    "Your reservation at Mimi's Cafe in Fairfield for 4 people on March 3rd at 11:15 am is confirmed.",
    "Sorry, I could not make that reservation. Would you like to try another time?",
    "Chinese, Indian, Thai, Japanese, Sushi, American, Breakfast, Pizza, Seafood, Vegetarian, Brunch",
    "San Francisco, Palo Alto, Sunnyvale, Mountain View, Los Angeles, Santa Rosa, Napa, Walnut Creek",
    'respond_to_user FindRestaurants ReserveRestaurant {"name": "FindRestaurants", "arguments": {"city": "'
    'San Jose", "cuisine": "Italian"}}',
    '{"restaurant_name": "Katana-ya", "city": "El Cerrito", "time": "13:15", "date": "2019-03-01", '
    '"party_size": "2", "price_range": "moderate", "has_live_music": "False", "serves_alcohol": "True"}',
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday today tomorrow the day after 0123456789",
]


class TinyConfig(BaseModel):
    """Size of a tiny model. Defaults give 3.7M parameters (the single demo model before it became a
    pair of 3 × 192 members, `train.demo.DEMO_LAYERS`)."""

    vocab_size: int = Field(default=2048, ge=300, description="BPE vocabulary incl. special tokens")
    layers: int = Field(default=4, ge=1, description="decoder layers")
    hidden: int = Field(default=256, ge=16, description="hidden size (head dim = hidden / heads)")
    heads: int = Field(default=4, ge=1, description="attention heads")
    kv_heads: int = Field(default=2, ge=1, description="key/value heads (GQA, like Qwen3)")
    intermediate: int | None = Field(default=None, description="MLP size; default 3 × hidden")
    pre_tokenizer: PreTokenizer = Field(
        default="words",
        description="Where BPE pieces may end: 'words' splits like Qwen (words, punctuation runs, digits); "
        "'lines' only at line breaks and digits, so merges span words and JSON punctuation (far fewer "
        "tokens on a fixed format; LINES_SPLIT_PATTERN); 'bare' like Qwen but words never carry the "
        "character before them, so a value is the same tokens in the conversation and in a call "
        "(BARE_SPLIT_PATTERN)",
    )
    max_positions: int = Field(default=8192, description="max_position_embeddings")
    seed: int = Field(default=0, description="weight init seed")


def corpus_from_data_dir(data_dir: Path | None, limit_chars: int = 3_000_000) -> Iterator[str]:
    """Utterances and trace messages from SGD dialogues and TFT traces, when a data dir exists."""
    if data_dir is None:
        return
    total = 0
    for path in sorted((Path(data_dir) / "sgd" / "train").glob("dialogues_*.json")):
        for dialogue in json.loads(path.read_text()):
            for turn in dialogue.get("turns", []):
                text = turn.get("utterance", "")
                total += len(text)
                yield text
        if total > limit_chars // 2:
            break
    for path in sorted((Path(data_dir) / "tft-benchmark").glob("scenario-1*/tft/traces.jsonl")):
        with path.open() as fh:
            for line in fh:
                total += len(line)
                yield line
                if total > limit_chars:
                    return


def train_tokenizer(texts: Iterable[str], vocab_size: int, pre_tokenizer: PreTokenizer = "words"):
    """A Qwen-style byte-level BPE `tokenizers.Tokenizer` with the chat special tokens; pieces split as
    `pre_tokenizer` says (TinyConfig.pre_tokenizer)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(SPLIT_PATTERNS[pre_tokenizer]), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def _chat_tokenizer(raw: Any, max_positions: int = 8192):
    """A transformers tokenizer around a `tokenizers.Tokenizer`, with Qwen3's special tokens and the
    project's chat template."""
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:],
        model_max_length=max_positions,
    )
    tokenizer.chat_template = PREFIX_STABLE_TEMPLATE.read_text()
    return tokenizer


def rendered_corpus(conversations: Iterable[list[dict]], tools: list[dict] | None) -> list[str]:
    """Conversations as the model will read them (system prompt, tool schemas, calls), for the BPE
    corpus: merges learnt on this text cut a rendered S1 conversation from 2,980 to 1,943 tokens
    at a 2,048 vocabulary (the system prompt alone from 1,752 to 941; bench/tokenizer_fit.py), so
    training and inference process a third fewer tokens. Rendering is text only, so a throwaway tokenizer does it."""
    from agent.render import render_conversation

    scratch = _chat_tokenizer(train_tokenizer(BUILTIN_CORPUS, 300))
    return [render_conversation(scratch, messages, tools) for messages in conversations]


def build_tokenizer(
    out_dir: str | Path,
    config: TinyConfig | None = None,
    texts: Iterable[str] = (),
    data_dir: Path | None = None,
):
    """Train the tiny models' chat tokenizer (config's vocabulary and split) and save it to out_dir;
    returns it. `build_tiny_model` adds the model; `agent.full_size` pairs it with a full-size one."""
    config = config or TinyConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    corpus = [*BUILTIN_CORPUS, BENCHMARK_TASK_DESCRIPTION, DEFAULT_SYSTEM_TEMPLATE, *texts]
    corpus.extend(corpus_from_data_dir(data_dir))
    tokenizer = _chat_tokenizer(
        train_tokenizer(corpus, config.vocab_size, config.pre_tokenizer), config.max_positions
    )
    tokenizer.save_pretrained(out)
    return tokenizer


def build_tiny_model(
    out_dir: str | Path,
    config: TinyConfig | None = None,
    texts: Iterable[str] = (),
    data_dir: Path | None = None,
) -> Path:
    """Write a tokenizer + random-init Qwen3ForCausalLM to out_dir; returns the directory."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = config or TinyConfig()
    out = Path(out_dir)
    tokenizer = build_tokenizer(out, config, texts, data_dir)

    head_dim = config.hidden // config.heads
    model_config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden,
        intermediate_size=config.intermediate or 3 * config.hidden,
        num_hidden_layers=config.layers,
        num_attention_heads=config.heads,
        num_key_value_heads=config.kv_heads,
        head_dim=head_dim,
        max_position_embeddings=config.max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(config.seed)
    model = Qwen3ForCausalLM(model_config)
    model.generation_config.eos_token_id = model_config.eos_token_id
    model.generation_config.pad_token_id = model_config.pad_token_id
    model.save_pretrained(out)
    return out


def parameter_count(model_dir: str | Path) -> int:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    return sum(p.numel() for p in model.parameters())
