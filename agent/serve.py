"""`resto serve`: an OpenAI-compatible chat-completions server over the local `hf` policy.

    resto serve --model ~/.resto/models/demo [--adapter DIR] [--host 127.0.0.1 --port 8000]
    curl http://127.0.0.1:8000/v1/models
    curl http://127.0.0.1:8000/v1/chat/completions -d '{"model": "resto", "messages": [...], "tools": [...]}'

Endpoints: `GET /v1/models`, `POST /v1/chat/completions` (tools; `stream: true` answers with SSE
`chat.completion.chunk`s whose tool_call argument deltas carry respond_to_user's message as it is
generated). A request's system message becomes the system prompt verbatim; without one the
project's default system prompt is used, so `resto serve` + the openai policy prompts the model
exactly as the local hf policy does. Requests are served one at a time (one model, one KV cache,
which consecutive turns of one conversation reuse); a client that disconnects cancels its generation.

`BackgroundServer(app)` runs the server in a thread on a free port (tests, benchmarks).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from typing import Any

from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from agent.conversation import normalize_messages
from agent.model_loading import LoadedModel
from agent.policies.base import PolicyStep
from agent.policies.hf import HFPolicy, Sampling
from agent.render import RenderConfig
from agent.tools import tool_schemas


class ServeConfig(BaseModel):
    host: str = Field(default="127.0.0.1", description="bind address")
    port: int = Field(default=8000, description="port; 0 picks a free one")
    model_name: str = Field(default="resto", description="the id listed by /v1/models")
    max_new_tokens: int = Field(default=256, ge=1, description="cap on generated tokens per request")


class _Runner:
    """The policy plus the lock that serializes requests (the policy's config changes per request)."""

    def __init__(self, loaded: LoadedModel, config: ServeConfig):
        self.config = config
        self.policy = HFPolicy(loaded, tool_schemas(), RenderConfig(), max_new_tokens=config.max_new_tokens)
        self.lock = threading.Lock()

    def run(self, body: dict[str, Any], on_text: Any = None, cancel: threading.Event | None = None) -> PolicyStep:
        messages = normalize_messages(body["messages"])
        render = RenderConfig()
        if messages and messages[0].get("role") == "system":
            render = RenderConfig(system_template=str(messages[0].get("content") or ""))
            messages = messages[1:]
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens") or self.config.max_new_tokens
        temperature = float(body.get("temperature") or 0.0)
        with self.lock:
            policy = self.policy
            policy.tools = body.get("tools") or []
            policy.render_config = render
            policy.max_new_tokens = min(int(max_tokens), self.config.max_new_tokens)
            policy.set_sampling(Sampling(temperature=temperature, seed=body.get("seed")))
            return policy.next_call(messages, on_text=on_text, cancel=cancel)


def _usage(step: PolicyStep) -> dict[str, Any]:
    return {
        "prompt_tokens": step.prompt_tokens,
        "completion_tokens": step.completion_tokens,
        "total_tokens": step.prompt_tokens + step.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": step.cached_tokens},
    }


def _finish_reason(step: PolicyStep, max_tokens: int) -> str:
    if step.call is not None:
        return "tool_calls"
    return "length" if step.completion_tokens >= max_tokens else "stop"


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error"}}, status_code=400)


def create_app(loaded: LoadedModel, config: ServeConfig | None = None) -> Starlette:
    config = config or ServeConfig()
    runner = _Runner(loaded, config)

    async def models(request: Request) -> JSONResponse:
        return JSONResponse(
            {"object": "list", "data": [{"id": config.model_name, "object": "model", "owned_by": "resto",
                                         "description": runner.policy.description}]}
        )

    async def chat_completions(request: Request) -> Any:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _bad_request("the request body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            return _bad_request("`messages` must be a non-empty list")
        try:
            normalize_messages(body["messages"])
        except (json.JSONDecodeError, AttributeError, TypeError) as exc:
            return _bad_request(f"malformed messages: {exc}")
        created = int(time.time())
        completion_id = "chatcmpl-" + uuid.uuid4().hex[:16]
        model = body.get("model") or config.model_name
        if body.get("stream"):
            return StreamingResponse(
                _stream(runner, body, completion_id, created, model), media_type="text/event-stream"
            )
        step = await asyncio.to_thread(runner.run, body)
        message: dict[str, Any] = {"role": "assistant", "content": None if step.call else step.raw_text}
        if step.call is not None:
            message["tool_calls"] = [
                {"id": step.call.id, "type": "function",
                 "function": {"name": step.call.name, "arguments": json.dumps(step.call.arguments)}}
            ]
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "message": message,
                             "finish_reason": _finish_reason(step, runner.policy.max_new_tokens)}],
                "usage": _usage(step),
            }
        )

    return Starlette(
        routes=[
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        ]
    )


async def _stream(runner: _Runner, body: dict[str, Any], completion_id: str, created: int, model: str):
    """SSE chunks: the role, then (for respond_to_user) the call's id/name and its arguments JSON
    piece by piece as the message is generated, then the rest of the call, usage, [DONE]."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    cancel = threading.Event()

    def on_text(delta: str) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, ("text", delta))

    def work() -> None:
        try:
            step = runner.run(body, on_text=on_text, cancel=cancel)
            loop.call_soon_threadsafe(queue.put_nowait, ("done", step))
        except Exception as exc:  # surfaced to the client as an error chunk
            loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))

    def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict | None = None) -> str:
        payload: dict[str, Any] = {
            "id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if usage is not None:
            payload["usage"] = usage
        return f"data: {json.dumps(payload)}\n\n"

    def call_delta(fragment: str, head: dict[str, Any] | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {"index": 0, "function": {"arguments": fragment}}
        if head:
            item.update(head)
            item["function"] = {"name": head.pop("name"), "arguments": fragment}
        return {"tool_calls": [item]}

    thread = threading.Thread(target=work, daemon=True)
    call_id = "call_" + uuid.uuid4().hex[:12]
    streamed: list[str] = []
    try:
        yield chunk({"role": "assistant", "content": None})
        thread.start()
        while True:
            kind, value = await queue.get()
            if kind == "text":
                head = {"id": call_id, "type": "function", "name": "respond_to_user"} if not streamed else None
                streamed.append(value)
                yield chunk(call_delta(('{"message": "' if head else "") + json.dumps(value)[1:-1], head))
                continue
            if kind == "error":
                yield f"data: {json.dumps({'error': {'message': str(value)}})}\n\n"
                break
            step: PolicyStep = value
            if step.call is not None and streamed:
                rest = {k: v for k, v in step.call.arguments.items() if k != "message"}
                tail = '"' + "".join(f", {json.dumps(k)}: {json.dumps(v)}" for k, v in rest.items()) + "}"
                yield chunk(call_delta(tail))
            elif step.call is not None:
                head = {"id": call_id, "type": "function", "name": step.call.name}
                yield chunk(call_delta(json.dumps(step.call.arguments), head))
            elif step.raw_text:
                yield chunk({"content": step.raw_text})
            yield chunk({}, _finish_reason(step, runner.policy.max_new_tokens), _usage(step))
            break
        yield "data: [DONE]\n\n"
    finally:
        cancel.set()  # a client that went away stops the generation


def run_server(loaded: LoadedModel, config: ServeConfig) -> None:
    import uvicorn

    uvicorn.run(create_app(loaded, config), host=config.host, port=config.port, log_level="info")


class BackgroundServer:
    """`with BackgroundServer(app) as server: server.base_url` — uvicorn in a thread on 127.0.0.1."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0):
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.host = host
        self.port = port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
