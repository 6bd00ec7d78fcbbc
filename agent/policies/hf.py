"""The `hf` policy: a local `transformers` model deciding the next tool call.

    loaded = load_model("distillabs/tft-benchmark-s4-tft-Qwen3-1.7B")       # agent.model_loading
    policy = HFPolicy(loaded, tool_schemas(), RenderConfig())
    step = policy.next_call(messages, on_text=print, cancel=threading.Event())

Why a hand-written decode loop instead of `model.generate`: the KV cache is kept across turns and
its reuse is explicit. The renderer is prefix-stable, so the prompt of turn N+1 starts with the
tokens of turn N (prompt + the call the model wrote); a new turn only prefills the new tokens.
When the history changed (an edited message, a re-rendered call that tokenizes differently), the
cache is cropped to the longest common token prefix first. Greedy by default.

`generate_batch(loaded, list_of_messages, …)` is the batched, left-padded, cache-less path used for
scoring many prompts at once (eval).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from agent.attention import variable_length_attention
from agent.conversation import Message
from agent.grounding import Gazetteer, grounded_checker
from agent.guided import CallChecker, TokenGuide, guided_argmax
from agent.model_loading import LoadedModel
from agent.parse import ToolCallParseError, parse_tool_call
from agent.policies.base import PolicyStep, TextCallback
from agent.policies.streaming import MessageStreamer
from agent.render import RenderConfig, encode, render_prompt
from agent.tools import tool_schemas

STOP_TEXT = "</tool_call>"


class Sampling(BaseModel):
    """Decoding settings. temperature 0 = greedy (the default, as the benchmark evaluates)."""

    temperature: float = Field(default=0.0, ge=0.0, description="0 = greedy argmax")
    top_p: float = Field(default=1.0, gt=0.0, le=1.0, description="nucleus sampling mass")
    seed: int | None = Field(default=None, description="seed of the sampling generator")


def stop_token_ids(tokenizer: Any) -> set[int]:
    """`</tool_call>`, `<|im_end|>`, `<|endoftext|>` and the tokenizer's EOS, where they exist."""
    ids: set[int] = set()
    unk = getattr(tokenizer, "unk_token_id", None)
    for token in (STOP_TEXT, "<|im_end|>", "<|endoftext|>"):
        tid = tokenizer.convert_tokens_to_ids(token)
        if isinstance(tid, int) and tid != unk:
            ids.add(tid)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return ids


def cache_kwarg(model: Any) -> str:
    """The forward() keyword for the KV cache: `cache` from transformers 5.2x on, `past_key_values` before."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # a PeftModel
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def new_cache(model: Any) -> Any:
    """An empty KV cache for `model`: its own kind where it has one (an ensemble keeps one per member)."""
    if hasattr(model, "new_cache"):
        return model.new_cache()
    from transformers import DynamicCache

    return DynamicCache(config=model.config)


def common_prefix_length(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def clean_completion(text: str, tokenizer: Any) -> str:
    """Generated text up to and including `</tool_call>`, without end-of-turn/pad tokens."""
    cut = text.find(STOP_TEXT)
    if cut >= 0:
        text = text[: cut + len(STOP_TEXT)]
    for token in ("<|im_end|>", "<|endoftext|>", tokenizer.pad_token, tokenizer.eos_token):
        if token:
            text = text.replace(token, "")
    return text.strip()


@dataclass
class _CacheState:
    cache: Any  # transformers DynamicCache
    ids: list[int]  # the tokens whose keys/values the cache holds, in order


class HFPolicy:
    """Policy over a local causal LM, with KV-cache reuse across turns, streaming and cancellation."""

    def __init__(
        self,
        loaded: LoadedModel,
        tools: list[dict] | None = None,
        render_config: RenderConfig | None = None,
        max_new_tokens: int = 256,
        sampling: Sampling | None = None,
        reuse_cache: bool = True,
        guided: bool = False,
        grounding: Gazetteer | None = None,
        avoid_cudnn_attention: bool = True,
    ):
        self.loaded = loaded
        # every decode step meets a new key length; cuDNN would plan each one (agent.attention)
        self.avoid_cudnn_attention = avoid_cudnn_attention
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.tools = tools if tools is not None else tool_schemas()
        self.render_config = render_config or RenderConfig()
        self.max_new_tokens = max_new_tokens
        self.sampling = sampling or Sampling()
        self.reuse_cache = reuse_cache
        # the decoding is part of what answered: shown in the REPL's header and logged with the session
        mode = " · grounded decoding" if grounding is not None else " · guided decoding" if guided else ""
        self.description = f"hf: {loaded.description}{mode}"
        self._stop_ids = stop_token_ids(self.tokenizer)
        # guided decoding (agent.guided): only calls the tool schemas allow (the app's tools when the
        # prompt shows none)
        checker = CallChecker(self.tools or tool_schemas()) if guided or grounding else None
        self.guide = TokenGuide(self.tokenizer, checker, self._stop_ids) if checker else None
        # grounded decoding (agent.grounding; implies guided): names, times, dates and party sizes
        # only as the conversation gives them, a checker per call
        self.grounding = grounding
        self._state: _CacheState | None = None
        self._lock = threading.Lock()  # one decode at a time: the cache is shared state
        self._cache_kwarg = cache_kwarg(self.model)
        self._generator = None
        self.set_sampling(self.sampling)

    def set_sampling(self, sampling: Sampling) -> None:
        """Switch decoding settings (a seeded generator is made for temperature > 0)."""
        self.sampling = sampling
        self._generator = None
        if sampling.temperature > 0:
            import torch

            self._generator = torch.Generator(device=self.loaded.device)
            self._generator.manual_seed(sampling.seed if sampling.seed is not None else 0)

    def reset(self) -> None:
        """Forget the KV cache (a new session)."""
        with self._lock:
            self._state = None

    def prompt_ids(self, messages: list[Message]) -> list[int]:
        return encode(self.tokenizer, render_prompt(self.tokenizer, messages, self.tools, self.render_config))

    def next_call(
        self,
        messages: list[Message],
        *,
        on_text: TextCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> PolicyStep:
        with self._lock:
            return self._next_call(messages, on_text, cancel)

    # -- decoding ---------------------------------------------------------------------------------
    def _prepare_cache(self, ids: list[int]) -> tuple[Any, int]:
        """A cache holding a prefix of `ids` (cropped to the longest common prefix) and its length."""
        state = self._state if self.reuse_cache else None
        if state is None:
            return new_cache(self.model), 0
        common = common_prefix_length(state.ids, ids)
        common = min(common, len(ids) - 1)  # at least one token must be fed to get next-token logits
        if common <= 0:
            return new_cache(self.model), 0
        drop = len(state.ids) - common
        if drop > 0:
            state.cache.crop(-drop)  # transformers 5: a negative count removes that many tokens
        return state.cache, common

    def _guide_for(self, messages: list[Message]) -> TokenGuide | None:
        if self.guide is None or self.grounding is None:
            return self.guide
        values = self.grounding.candidates(messages)
        return self.guide.with_checker(grounded_checker(self.tools or tool_schemas(), values))

    def _pick(self, logits: Any, text: str, guide: TokenGuide | None) -> int:
        """The next token; `text` is what this call has generated so far (the guide's input)."""
        import torch

        if guide is not None:
            if self.sampling.temperature <= 0:
                return guided_argmax(guide, text, logits)
            # sampling: keep the allowed ones among the 64 most likely (the guided argmax if none is)
            top = torch.topk(logits, min(64, logits.shape[-1])).indices.tolist()
            allowed = [t for t in top if guide.ok(text, t)] or [guided_argmax(guide, text, logits)]
            masked = torch.full_like(logits, float("-inf"))
            masked[allowed] = logits[allowed]
            logits = masked
        if self.sampling.temperature <= 0:
            return int(torch.argmax(logits, dim=-1).item())
        probs = torch.softmax(logits.float() / self.sampling.temperature, dim=-1)
        if self.sampling.top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True)
            keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < self.sampling.top_p
            probs = torch.zeros_like(probs).scatter(-1, order[keep], sorted_probs[keep])
        return int(torch.multinomial(probs, 1, generator=self._generator).item())

    def _next_call(self, messages: list[Message], on_text: TextCallback | None, cancel: threading.Event | None) -> PolicyStep:
        import torch

        start = time.perf_counter()
        ids = self.prompt_ids(messages)
        guide = self._guide_for(messages)
        cache, cached = self._prepare_cache(ids)
        self._state = None  # rebuilt below; a failure mid-way must not leave a half-updated cache behind
        fed = ids[:cached]
        to_feed = ids[cached:]
        generated: list[int] = []
        text = ""  # decode(generated), kept once per step for streaming, the stop check and the guide
        streamer = MessageStreamer()
        ttft: float | None = None
        cancelled = False
        device = self.loaded.device
        with torch.inference_mode(), variable_length_attention(self.avoid_cudnn_attention):
            while True:
                if cancel is not None and cancel.is_set():
                    cancelled = True
                    break
                inputs = torch.tensor([to_feed], dtype=torch.long, device=device)
                # the DynamicCache is updated in place; logits only for the last position
                out = self.model(input_ids=inputs, use_cache=True, logits_to_keep=1, **{self._cache_kwarg: cache})
                fed.extend(to_feed)
                token = self._pick(out.logits[0, -1], text, guide)
                if ttft is None:
                    ttft = time.perf_counter() - start
                generated.append(token)
                if token in self._stop_ids or len(generated) >= self.max_new_tokens:
                    break
                text = self.tokenizer.decode(generated)
                if on_text is not None:
                    delta = streamer.feed(text)
                    if delta:
                        on_text(delta)
                if STOP_TEXT in text:
                    break
                to_feed = [token]
        self._state = _CacheState(cache=cache, ids=fed) if self.reuse_cache else None
        raw = clean_completion(self.tokenizer.decode(generated), self.tokenizer)
        step = PolicyStep(
            raw_text=raw,
            prompt_tokens=len(ids),
            completion_tokens=len(generated),
            cached_tokens=cached,
            latency_s=time.perf_counter() - start,
            time_to_first_token_s=ttft,
            cancelled=cancelled,
        )
        if cancelled:
            step.error = "cancelled"
            return step
        if on_text is not None:  # the last token (e.g. `"}}` before a stop) may close the message
            delta = streamer.feed(self.tokenizer.decode(generated))
            if delta:
                on_text(delta)
        try:
            step.call = parse_tool_call(raw)
        except ToolCallParseError as exc:
            step.error = f"unparseable model output: {exc.reason}"
        return step


def generate_batch(
    loaded: LoadedModel,
    conversations: list[list[Message]],
    tools: list[dict] | None = None,
    render_config: RenderConfig | None = None,
    max_new_tokens: int = 256,
    batch_size: int = 8,
) -> list[str]:
    """Greedy completions (raw text, up to `</tool_call>`) for many conversations, left-padded batches.

    No cache reuse here: each conversation is independent. Use parse_tool_call on the results.
    """
    import torch

    tokenizer, model = loaded.tokenizer, loaded.model
    tools = tools if tools is not None else tool_schemas()
    config = render_config or RenderConfig()
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    stops = sorted(stop_token_ids(tokenizer))
    results: list[str] = []
    for begin in range(0, len(conversations), batch_size):
        chunk = conversations[begin : begin + batch_size]
        encoded = [encode(tokenizer, render_prompt(tokenizer, msgs, tools, config)) for msgs in chunk]
        width = max(len(e) for e in encoded)
        input_ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, ids in enumerate(encoded):
            input_ids[row, width - len(ids) :] = torch.tensor(ids)
            attention[row, width - len(ids) :] = 1
        with torch.inference_mode(), variable_length_attention():
            out = model.generate(
                input_ids=input_ids.to(loaded.device),
                attention_mask=attention.to(loaded.device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=stops,
                pad_token_id=pad_id,
            )
        for row in range(len(encoded)):
            text = tokenizer.decode(out[row, width:].tolist())
            results.append(clean_completion(text, tokenizer))
    return results
