"""Predictions for expanded benchmark rows: batched local generation or an OpenAI-compatible endpoint.

Local models (`HFPredictor`): prompts are rendered with `agent.render.render_prompt` (the same
prompt the app and training use: the benchmark's system prompt and tool schemas, thinking off),
sorted by length so a batch holds prompts of similar size, LEFT-padded (a decoder continues from
the last position of every row, so padding must sit in front) and decoded greedily with
`model.generate` in batches (the same decoding as `agent.policies.hf.generate_batch`, plus
length sorting and resumability). A row's prediction is the generated text up to `</tool_call>`,
cleaned exactly like the hf policy's raw text, e.g.
`<tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>` — the raw string the benchmark's
metrics parse.

Endpoints (`EndpointPredictor`): one chat request per row through `agent.llm_client.ChatClient`
(concurrent, retried, cached), with the same system prompt and tools; a returned tool call is
written in the model's own `<tool_call>` form, a plain text answer as it is.

`predict_rows` is resumable: each finished row is appended to predictions.jsonl at once (keyed by
a hash of question + answer), and rows already there are skipped on the next run.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent.attention import variable_length_attention
from agent.conversation import Message, ToolCall
from agent.grounding import Gazetteer, grounded_checker
from agent.guided import CallChecker, TokenGuide, guided_logits_processor
from agent.llm_client import ChatClient, EndpointConfig, LLMError
from agent.policies.hf import clean_completion, stop_token_ids
from agent.render import RenderConfig, render_prompt
from agent.tools import tool_schemas


class Predictor(Protocol):
    description: str

    def predict(self, conversations: Sequence[list[Message]]) -> list[str | None]:
        """One raw prediction per conversation; None where it failed (it is retried next run)."""
        ...


def load_hf_model(
    model: str, adapter: str | None = None, quantization: str | None = None, device: str | None = None
) -> tuple[Any, Any]:
    from agent.model_loading import load_model

    loaded = load_model(model, adapter=adapter, quantization=quantization, device=device)
    return loaded.model, loaded.tokenizer


class HFPredictor:
    """Batched greedy generation with left padding."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        batch_size: int = 8,
        max_new_tokens: int = 256,
        render: RenderConfig | None = None,
        description: str = "hf",
        guided: bool = False,
        grounding: Gazetteer | None = None,
    ):
        self.model, self.tokenizer = model, tokenizer
        self.batch_size = max(1, batch_size)
        self.max_new_tokens = max_new_tokens
        self.render = render or RenderConfig()
        self.description = description
        self.tools = tool_schemas()
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self._stop = sorted(stop_token_ids(tokenizer))
        self.generated_tokens = 0
        # guided decoding (agent.guided): only calls the tool schemas allow; off = the benchmark's free decoding
        self.guide = TokenGuide(tokenizer, CallChecker(self.tools), self._stop) if guided or grounding else None
        # grounded decoding (agent.grounding): each conversation's own values only; implies guided
        self.grounding = grounding

    def prompts(self, conversations: Sequence[list[Message]]) -> list[str]:
        return [render_prompt(self.tokenizer, msgs, self.tools, self.render) for msgs in conversations]

    def generate_ids(self, prompts: Sequence[str], guides: Sequence[TokenGuide] | None = None) -> list[list[int]]:
        """One left-padded batch → the generated token ids of each row, cut at the first stop token
        (`guides`: one per row, instead of the predictor's own guide)."""
        import torch

        tok = self.tokenizer
        previous_side = tok.padding_side
        tok.padding_side = "left"
        try:
            enc = tok(list(prompts), return_tensors="pt", padding=True, add_special_tokens=False)
        finally:
            tok.padding_side = previous_side
        enc = {k: v.to(self.model.device) for k, v in enc.items()}
        extra = {}
        if guides is not None or self.guide is not None:
            from transformers import LogitsProcessorList

            processor = guided_logits_processor(guides if guides is not None else self.guide, enc["input_ids"].shape[1])
            extra["logits_processor"] = LogitsProcessorList([processor])
        with torch.no_grad(), variable_length_attention():  # a new key length every step (agent.attention)
            out = self.model.generate(
                **enc,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=tok.pad_token_id,
                eos_token_id=self._stop,
                **extra,
            )
        rows = []
        for row in out[:, enc["input_ids"].shape[1] :].tolist():
            # keep the first stop token (</tool_call> belongs to the call), drop what follows
            cut = next((i + 1 for i, t in enumerate(row) if t in self._stop), len(row))
            self.generated_tokens += cut
            rows.append(row[:cut])
        return rows

    def generate(self, prompts: Sequence[str], guides: Sequence[TokenGuide] | None = None) -> list[str]:
        # decoded like the hf policy's raw text (agent.policies.hf.clean_completion): up to and
        # including </tool_call>, end-of-turn and pad tokens removed
        return [
            clean_completion(self.tokenizer.decode(ids), self.tokenizer) for ids in self.generate_ids(prompts, guides)
        ]

    def guides(self, conversations: Sequence[list[Message]]) -> list[TokenGuide] | None:
        """Grounded decoding: one guide per conversation, allowing the values it grounds."""
        if self.grounding is None or self.guide is None:
            return None
        return [
            self.guide.with_checker(grounded_checker(self.tools, self.grounding.candidates(msgs)))
            for msgs in conversations
        ]

    def predict(self, conversations: Sequence[list[Message]]) -> list[str]:
        prompts = self.prompts(conversations)
        guides = self.guides(conversations)
        # batches of similar length waste little compute on padding
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        out: list[str] = [""] * len(prompts)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            chunk_guides = [guides[i] for i in chunk] if guides is not None else None
            for i, text in zip(chunk, self.generate([prompts[i] for i in chunk], chunk_guides), strict=True):
                out[i] = text
        return out


def response_to_prediction(text: str, calls: list[ToolCall]) -> str:
    """An endpoint's answer as the raw string the metrics parse."""
    if calls:
        return calls[0].to_text()
    return text.strip()


class EndpointPredictor:
    def __init__(
        self, config: EndpointConfig, *, max_tokens: int | None = 512, render: RenderConfig | None = None
    ):
        self.client = ChatClient(config)
        self.description = f"endpoint: {config.model} @ {config.base_url}"
        self.max_tokens = max_tokens
        self.system = (render or RenderConfig()).system_prompt()
        self.tools = tool_schemas()
        self.errors: list[str] = []

    def predict(self, conversations: Sequence[list[Message]]) -> list[str | None]:
        requests = [
            {
                "messages": [{"role": "system", "content": self.system}, *msgs],
                "tools": self.tools,
                "temperature": 0.0,
                "max_tokens": self.max_tokens,
            }
            for msgs in conversations
        ]
        out = []
        for response in self.client.chat_many(requests):
            if isinstance(response, LLMError):
                self.errors.append(str(response))
                out.append(None)  # not saved: predicted again on the next run
            else:
                out.append(response_to_prediction(response.text, response.tool_calls))
        return out


def row_key(row: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([row["question"], row["answer"]]).encode()).hexdigest()[:16]


def read_done(path: Path) -> dict[str, dict[str, Any]]:
    """Finished predictions by row key; a torn last line (a killed run) is ignored."""
    done: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return done
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "key" in record and isinstance(record.get("prediction"), str):
                done[record["key"]] = record
    return done


@dataclass
class PredictStats:
    total: int
    skipped: int
    predicted: int
    seconds: float
    failed: int = 0  # rows whose prediction failed (endpoint errors); retried on the next run


def predict_rows(
    rows: Sequence[dict[str, Any]],
    predictor: Predictor,
    out_path: str | Path,
    *,
    chunk_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[dict[str, Any]], PredictStats]:
    """Predict every row not yet in `out_path`, appending as it goes; returns all rows in input order."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    done = read_done(out_path)
    keys = [row_key(r) for r in rows]
    todo = [i for i, k in enumerate(keys) if k not in done]
    failed: dict[str, dict[str, Any]] = {}
    if progress:
        progress(len(rows) - len(todo))
    start = time.perf_counter()
    # a torn last line from a killed run must not glue onto the first new record
    if out_path.exists() and out_path.stat().st_size and not out_path.read_bytes().endswith(b"\n"):
        with out_path.open("a", encoding="utf-8") as fh:
            fh.write("\n")
    with out_path.open("a", encoding="utf-8") as fh:
        for s in range(0, len(todo), chunk_size):
            chunk = todo[s : s + chunk_size]
            conversations = [json.loads(rows[i]["question"]) for i in chunk]
            predictions = predictor.predict(conversations)
            for i, prediction in zip(chunk, predictions, strict=True):
                if prediction is None:  # scored as "no call" now, not saved, so a re-run asks again
                    failed[keys[i]] = {"key": keys[i], **rows[i], "prediction": "", "failed": True}
                    continue
                record = {"key": keys[i], **rows[i], "prediction": prediction}
                fh.write(json.dumps(record) + "\n")
                done[keys[i]] = record
            fh.flush()
            if progress:
                progress(len(chunk))
    stats = PredictStats(
        len(rows), len(rows) - len(todo), len(todo) - len(failed), time.perf_counter() - start, len(failed)
    )
    return [done.get(k) or failed[k] for k in keys], stats
