"""A client for OpenAI-compatible chat-completions endpoints (vLLM, Ollama, llama.cpp server,
hosted APIs, or `resto serve`), shared by the `openai` policy, the judge and the TFT stages.

What it adds over a bare HTTP call: a concurrency limit, retries with exponential backoff on
timeouts / 429 / 5xx, and a response cache on disk keyed by a hash of the request, so a
re-run (or a resumed pipeline) never pays twice for the same call.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
from pydantic import BaseModel, Field

from agent.conversation import Message, ToolCall, with_string_arguments


class EndpointConfig(BaseModel):
    """One OpenAI-compatible endpoint and how to talk to it."""

    base_url: str = Field(description="e.g. http://127.0.0.1:8000/v1 (the /chat/completions path is appended)")
    model: str = Field(description="model name sent in each request")
    api_key: str | None = Field(default=None, description="sent as a Bearer token when set")
    timeout_s: float = Field(default=120.0, description="per-request timeout")
    max_retries: int = Field(default=3, ge=0, description="retries after the first try, with backoff")
    backoff_s: float = Field(default=1.0, description="first backoff; doubles on each retry")
    max_concurrency: int = Field(default=8, ge=1, description="requests in flight at once")
    cache_dir: Path | None = Field(default=None, description="response cache; None disables it")


class LLMError(RuntimeError):
    """The endpoint failed after all retries, or answered with something unusable."""


@dataclass
class ChatResponse:
    text: str
    tool_calls: list[ToolCall]
    finish_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    cached: bool = False
    latency_s: float = 0.0


@dataclass
class ClientStats:
    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class ChatClient:
    def __init__(self, config: EndpointConfig, transport: httpx.BaseTransport | None = None):
        self.config = config
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._http = httpx.Client(
            base_url=config.base_url.rstrip("/"), headers=headers, timeout=config.timeout_s, transport=transport
        )
        self._slots = threading.BoundedSemaphore(config.max_concurrency)
        self._lock = threading.Lock()
        self.stats = ClientStats()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------------
    def build_request(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": with_string_arguments(messages),
            "temperature": temperature,
        }
        if tools:
            body["tools"] = tools
        if max_tokens:
            body["max_tokens"] = max_tokens
        body.update(extra)
        return body

    def chat(self, messages: list[Message], *, use_cache: bool = True, **kwargs: Any) -> ChatResponse:
        return self.send(self.build_request(messages, **kwargs), use_cache=use_cache)

    def chat_many(self, requests: list[dict[str, Any]], use_cache: bool = True) -> list[ChatResponse | LLMError]:
        """Run `chat(**request)` for each request concurrently (bounded by max_concurrency);
        failures come back as LLMError in their slot instead of aborting the batch."""

        def one(kwargs: dict[str, Any]) -> ChatResponse | LLMError:
            try:
                return self.chat(use_cache=use_cache, **kwargs)
            except LLMError as exc:
                return exc

        with ThreadPoolExecutor(max_workers=self.config.max_concurrency) as pool:
            return list(pool.map(one, requests))

    def stream_chat(
        self, messages: list[Message], on_delta: Any = None, cancel: Any = None, **kwargs: Any
    ) -> ChatResponse:
        """`chat` with `stream: true` (server-sent events). `on_delta(delta)` gets each chunk's
        `choices[0].delta` dict as it arrives; the assembled ChatResponse is returned. Not cached.
        Connection failures and retryable statuses are retried only before the first chunk.
        `cancel` (a threading.Event) stops reading; the response then has finish_reason "cancelled"."""
        body = self.build_request(messages, **kwargs)
        body["stream"] = True
        errors: list[str] = []
        for _ in self._attempts():
            with self._request_slot():
                start = time.perf_counter()
                try:
                    with self._http.stream("POST", "/chat/completions", json=body) as resp:
                        if resp.status_code >= 400:
                            resp.read()
                            if self._failed_status(resp, errors):
                                continue
                        response = assemble_stream(resp.iter_lines(), on_delta, cancel)
                except httpx.TimeoutException:
                    errors.append(f"timed out after {self.config.timeout_s:g}s")
                    continue
                except httpx.TransportError as exc:
                    errors.append(f"connection failed: {exc}")
                    continue
                response.latency_s = time.perf_counter() - start
                return response
        self._give_up(errors)

    def send(self, body: dict[str, Any], use_cache: bool = True) -> ChatResponse:
        key = self._cache_key(body)
        if use_cache:
            hit = self._cache_get(key)
            if hit is not None:
                with self._lock:
                    self.stats.cache_hits += 1
                response = parse_completion(hit)
                response.cached = True
                return response
        raw, latency = self._post_with_retries(body)
        response = parse_completion(raw)
        response.latency_s = latency
        if use_cache:
            self._cache_put(key, raw)
        return response

    def _post_with_retries(self, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
        errors: list[str] = []
        for _ in self._attempts():
            with self._request_slot():
                start = time.perf_counter()
                try:
                    resp = self._http.post("/chat/completions", json=body)
                except httpx.TimeoutException:
                    errors.append(f"timed out after {self.config.timeout_s:g}s")
                    continue
                except httpx.TransportError as exc:
                    errors.append(f"connection failed: {exc}")
                    continue
                latency = time.perf_counter() - start
            if self._failed_status(resp, errors):
                continue
            try:
                return resp.json(), latency
            except ValueError:
                errors.append("response is not JSON")
                continue
        self._give_up(errors)

    # -- retry plumbing shared by plain and streaming requests -------------------------------
    def _attempts(self) -> Iterator[int]:
        """One iteration per try; sleeps with exponential backoff before each retry."""
        delay = self.config.backoff_s
        for attempt in range(self.config.max_retries + 1):
            if attempt:
                with self._lock:
                    self.stats.retries += 1
                time.sleep(delay)
                delay *= 2
            yield attempt

    @contextmanager
    def _request_slot(self) -> Iterator[None]:
        """Waits for a free concurrency slot and counts the request."""
        with self._slots:
            with self._lock:
                self.stats.requests += 1
            yield

    def _failed_status(self, resp: httpx.Response, errors: list[str]) -> bool:
        """True when the status is worth a retry (noted in `errors`); raises on other HTTP errors."""
        if resp.status_code in RETRYABLE_STATUS:
            errors.append(f"HTTP {resp.status_code}: {resp.text[:200]}")
            return True
        if resp.status_code >= 400:
            with self._lock:
                self.stats.failures += 1
            raise LLMError(f"{self.config.base_url} answered HTTP {resp.status_code}: {resp.text[:300]}")
        return False

    def _give_up(self, errors: list[str]) -> NoReturn:
        with self._lock:
            self.stats.failures += 1
        distinct = "; ".join(dict.fromkeys(errors)) or "no attempt made"
        raise LLMError(f"{self.config.base_url} failed after {self.config.max_retries + 1} tries: {distinct}")

    # -- cache ------------------------------------------------------------------------------
    def _cache_key(self, body: dict[str, Any]) -> str:
        canonical = json.dumps({"base_url": self.config.base_url, **body}, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def _cache_path(self, key: str) -> Path | None:
        if self.config.cache_dir is None:
            return None
        return Path(self.config.cache_dir) / key[:2] / f"{key}.json"

    def _cache_get(self, key: str) -> dict[str, Any] | None:
        path = self._cache_path(key)
        if path is None or not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None  # a torn write from a killed run: ask again

    def _cache_put(self, key: str, raw: dict[str, Any]) -> None:
        path = self._cache_path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(raw))
        tmp.replace(path)


def parse_completion(raw: dict[str, Any]) -> ChatResponse:
    """An OpenAI chat.completion object → ChatResponse (tool-call arguments decoded)."""
    try:
        choice = raw["choices"][0]
        message = choice.get("message") or {}
    except (KeyError, IndexError, TypeError):
        raise LLMError(f"response has no choices: {str(raw)[:300]}") from None
    calls = []
    for item in message.get("tool_calls") or []:
        fn = item.get("function") or {}
        args = fn.get("arguments") or {}
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except json.JSONDecodeError:
                args = {"__unparsed__": args}
        calls.append(ToolCall(name=fn.get("name", ""), arguments=args, id=item.get("id") or ""))
    return ChatResponse(
        text=message.get("content") or "",
        tool_calls=calls,
        finish_reason=choice.get("finish_reason"),
        usage=raw.get("usage") or {},
        raw=raw,
    )


def assemble_stream(lines: Any, on_delta: Any = None, cancel: Any = None) -> ChatResponse:
    """Server-sent `chat.completion.chunk` lines → one ChatResponse (content and tool-call argument
    fragments concatenated per index); `on_delta` sees each chunk's delta as it arrives."""
    content: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish: str | None = None
    usage: dict[str, Any] = {}
    for line in lines:
        if cancel is not None and cancel.is_set():
            finish = "cancelled"
            break
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError:
            raise LLMError(f"malformed stream chunk: {data[:200]}") from None
        usage = chunk.get("usage") or usage
        choices = chunk.get("choices") or []
        if not choices:
            continue
        delta = choices[0].get("delta") or {}
        finish = choices[0].get("finish_reason") or finish
        if delta.get("content"):
            content.append(delta["content"])
        for item in delta.get("tool_calls") or []:
            slot = calls.setdefault(int(item.get("index", 0)), {"id": "", "name": "", "arguments": ""})
            slot["id"] = item.get("id") or slot["id"]
            fn = item.get("function") or {}
            slot["name"] += fn.get("name") or ""
            slot["arguments"] += fn.get("arguments") or ""
        if on_delta is not None:
            on_delta(delta)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(content)}
    if calls:
        message["tool_calls"] = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for _, c in sorted(calls.items())
        ]
    raw = {"choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage}
    return parse_completion(raw)
