"""LLM-as-a-judge, as the TFT benchmark runs it.

The rubric is the benchmark's own (`job_description.json` → `llm_as_a_judge_instructions`). Each
row sends the rubric, the conversation so far, the reference call and the predicted call; the
judge answers good (→ 1.0) or bad (→ 0.0). A verdict that cannot be read (or a request that
failed after all retries) scores None: it is excluded from the mean and counted.

Judges:
- `EndpointJudge`: any OpenAI-compatible endpoint (the benchmark used gpt-oss-120b) through
  `agent.llm_client.ChatClient` (concurrency limit, retries with backoff);
- `HFJudge`: a local transformers model, greedy.
Both keep a verdict cache on disk keyed by a hash of the content (judge model name, rubric,
conversation, reference, prediction) — not of the endpoint's address — so a re-run, a resumed
run or the same prediction from another run never asks twice.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent.attention import variable_length_attention
from agent.llm_client import ChatClient, EndpointConfig, LLMError

PROMPT_VERSION = "1"  # part of the cache key: bump when the prompt below changes

INSTRUCTIONS = (
    "You are an impartial judge of a restaurant assistant's next tool call. You are given the "
    "conversation so far, the reference tool call and the predicted tool call.\n\n{rubric}\n\n"
    "Reply with exactly one word: good or bad."
)


@dataclass(frozen=True)
class JudgeItem:
    question: str  # JSON string of the conversation before the call
    answer: str  # reference call
    prediction: str


@dataclass
class Verdict:
    score: float | None  # 1.0 good, 0.0 bad, None unparseable / failed
    raw: str = ""
    error: str | None = None  # set when the request failed (timeouts after retries, HTTP errors)
    cached: bool = False

    @property
    def unparseable(self) -> bool:
        return self.score is None and self.error is None


def load_rubric(job_description: str | Path) -> str:
    data = json.loads(Path(job_description).read_text())
    rubric = data.get("llm_as_a_judge_instructions")
    if not isinstance(rubric, str) or not rubric.strip():
        raise ValueError(f"{job_description} has no llm_as_a_judge_instructions")
    return rubric


def judge_messages(rubric: str, item: JudgeItem) -> list[dict[str, str]]:
    user = (
        f"Conversation so far (JSON list of messages):\n{item.question}\n\n"
        f"Reference tool call:\n{item.answer}\n\n"
        f"Predicted tool call:\n{item.prediction}\n\n"
        "Verdict (good or bad):"
    )
    return [
        {"role": "system", "content": INSTRUCTIONS.format(rubric=rubric.strip())},
        {"role": "user", "content": user},
    ]


_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL)
_VERDICT_KEYS = ("verdict", "score", "label", "answer", "result")


def parse_verdict(text: Any) -> float | None:
    """good → 1.0, bad → 0.0, anything else → None.

    Accepts the bare word (any case, quotes, markdown, trailing period), a JSON object with a
    verdict/score/label key, or prose whose last word is the verdict ("…, so: bad"). Prose that
    names both words without ending on one is unparseable rather than guessed.
    """
    if not isinstance(text, str):
        return None
    text = _THINK.sub("", text).strip()
    if not text:
        return None
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        obj = None
    if isinstance(obj, dict):
        for key in _VERDICT_KEYS:
            if key in obj:
                return parse_verdict(str(obj[key]))
        return None
    words = re.findall(r"[a-z]+", text.lower())
    found = [w for w in words if w in ("good", "bad")]
    if not found:
        return None
    negations = {"not", "neither", "nor", "no"}
    if words[-1] in ("good", "bad"):
        if len(words) > 1 and words[-2] in negations:
            return None
        return 1.0 if words[-1] == "good" else 0.0
    if len(set(found)) == 1 and not negations & set(words):
        return 1.0 if found[0] == "good" else 0.0
    return None


class VerdictCache:
    """Verdicts on disk, one small JSON file per content hash."""

    def __init__(self, directory: str | Path | None):
        self.directory = Path(directory) if directory else None
        self._lock = threading.Lock()

    @staticmethod
    def key(judge_name: str, rubric: str, item: JudgeItem) -> str:
        canonical = json.dumps(
            [PROMPT_VERSION, judge_name, rubric, item.question, item.answer, item.prediction],
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    def get(self, key: str) -> str | None:
        if self.directory is None:
            return None
        path = self.directory / key[:2] / f"{key}.json"
        try:
            return json.loads(path.read_text())["raw"]
        except (OSError, json.JSONDecodeError, KeyError, TypeError):
            return None

    def put(self, key: str, raw: str) -> None:
        if self.directory is None:
            return
        path = self.directory / key[:2] / f"{key}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"raw": raw}))
        tmp.replace(path)


class Judge(Protocol):
    name: str

    def judge_many(self, items: Sequence[JudgeItem]) -> list[Verdict]: ...


class _CachedJudge:
    """Shared cache handling: subclasses implement `_ask(items) -> list[str | LLMError]`."""

    name: str = "judge"

    def __init__(self, rubric: str, cache_dir: str | Path | None = None):
        self.rubric = rubric
        self.cache = VerdictCache(cache_dir)
        self.stats = {"asked": 0, "cache_hits": 0, "failed": 0, "unparseable": 0}

    def _ask(self, items: Sequence[JudgeItem]) -> list[str | Exception]:
        raise NotImplementedError

    def judge_many(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        keys = [VerdictCache.key(self.name, self.rubric, item) for item in items]
        verdicts: list[Verdict | None] = [None] * len(items)
        todo = []
        for i, key in enumerate(keys):
            raw = self.cache.get(key)
            if raw is not None:
                verdicts[i] = Verdict(parse_verdict(raw), raw, cached=True)
                self.stats["cache_hits"] += 1
            else:
                todo.append(i)
        answers = self._ask([items[i] for i in todo]) if todo else []
        self.stats["asked"] += len(todo)
        for i, answer in zip(todo, answers, strict=True):
            if isinstance(answer, Exception):
                verdicts[i] = Verdict(None, "", error=str(answer))
                self.stats["failed"] += 1
                continue
            # only cache what the judge actually said (failures are retried on the next run)
            self.cache.put(keys[i], answer)
            verdicts[i] = Verdict(parse_verdict(answer), answer)
        out = [v for v in verdicts if v is not None]
        self.stats["unparseable"] += sum(1 for v in out if v.unparseable and not v.cached)
        return out


class EndpointJudge(_CachedJudge):
    def __init__(
        self,
        config: EndpointConfig,
        rubric: str,
        cache_dir: str | Path | None = None,
        max_tokens: int | None = None,
    ):
        super().__init__(rubric, cache_dir)
        self.name = f"endpoint:{config.model}"
        # the verdict cache is content-keyed; the client's own request cache is left off
        self.client = ChatClient(config.model_copy(update={"cache_dir": None}))
        self.max_tokens = max_tokens

    def _ask(self, items: Sequence[JudgeItem]) -> list[str | Exception]:
        requests = [
            {"messages": judge_messages(self.rubric, item), "temperature": 0.0, "max_tokens": self.max_tokens}
            for item in items
        ]
        out: list[str | Exception] = []
        for response in self.client.chat_many(requests, use_cache=False):
            out.append(response if isinstance(response, LLMError) else response.text)
        return out

    def close(self) -> None:
        self.client.close()


class HFJudge(_CachedJudge):
    """A local transformers causal LM as judge (greedy, short answer)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        rubric: str,
        name: str,
        cache_dir: str | Path | None = None,
        max_new_tokens: int = 8,
    ):
        super().__init__(rubric, cache_dir)
        self.model, self.tokenizer = model, tokenizer
        self.name = f"hf:{name}"
        self.max_new_tokens = max_new_tokens

    def _ask(self, items: Sequence[JudgeItem]) -> list[str | Exception]:
        import torch

        out: list[str | Exception] = []
        for item in items:
            try:
                prompt = self.tokenizer.apply_chat_template(
                    judge_messages(self.rubric, item),
                    tokenize=False,
                    add_generation_prompt=True,
                    enable_thinking=False,
                )
                enc = self.tokenizer(prompt, return_tensors="pt").to(self.model.device)
                with torch.no_grad(), variable_length_attention():
                    ids = self.model.generate(
                        **enc,
                        max_new_tokens=self.max_new_tokens,
                        do_sample=False,
                        pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
                    )
                out.append(
                    self.tokenizer.decode(ids[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
                )
            except Exception as exc:  # one bad row must not lose the others' verdicts
                out.append(exc)
        return out


def make_judge(
    *,
    endpoint: str | None = None,
    model: str | None = None,
    rubric: str,
    cache_dir: str | Path | None,
    api_key: str | None = None,
    timeout_s: float = 120.0,
    max_concurrency: int = 8,
    hf_loader: Callable[[str], tuple[Any, Any]] | None = None,
) -> Judge:
    """An endpoint judge when `endpoint` is given, else a local hf judge loading `model`."""
    if endpoint:
        if not model:
            raise ValueError("an endpoint judge needs a model name (--judge-model)")
        config = EndpointConfig(
            base_url=endpoint,
            model=model,
            api_key=api_key,
            timeout_s=timeout_s,
            max_concurrency=max_concurrency,
        )
        return EndpointJudge(config, rubric, cache_dir)
    if not model:
        raise ValueError(
            "give --judge-endpoint URL --judge-model NAME, or --judge-model PATH for a local judge"
        )
    if hf_loader is None:
        from eval.predict import load_hf_model

        hf_loader = load_hf_model
    hf_model, tokenizer = hf_loader(model)
    return HFJudge(hf_model, tokenizer, rubric, model, cache_dir)
