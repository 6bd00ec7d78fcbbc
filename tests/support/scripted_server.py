"""A scripted OpenAI-compatible server on 127.0.0.1, for tests of the LLM clients.

It stands in for what cannot exist here (a 100B-parameter teacher or judge): real HTTP, real
JSON, answers decided by a Python function. Use:

    def handler(body):               # the request's JSON body
        return completion(text="good")   # or a dict, or (status, dict), or raise/return Delay(s)
    with ScriptedServer(handler) as server:   # a request with "stream": true gets the answer as SSE
        client = ChatClient(EndpointConfig(base_url=server.base_url, model="judge"))
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Delay(Exception):
    """Raise from a handler to sleep `seconds` before answering (to trigger client timeouts)."""

    def __init__(self, seconds: float, then: Any = None):
        self.seconds = seconds
        self.then = then


def completion(text: str = "", tool_calls: list[dict] | None = None, model: str = "scripted") -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": c["name"], "arguments": json.dumps(c.get("arguments", {}))},
            }
            for i, c in enumerate(tool_calls)
        ]
    return {
        "id": "cmpl-scripted",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


Handler = Callable[[dict[str, Any]], Any]


def stream_chunks(payload: dict[str, Any], piece: int = 6) -> list[dict[str, Any]]:
    """A completion dict as the `chat.completion.chunk`s an OpenAI-compatible server streams: the
    content, then each tool call's name and its arguments in `piece`-character fragments, then the
    finish reason and the usage."""
    choice = payload["choices"][0]
    message = choice["message"]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": payload.get("id", "cmpl"), "object": "chat.completion.chunk", "model": payload.get("model"),
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    out = [chunk({"role": "assistant", "content": ""})]
    text = message.get("content") or ""
    out += [chunk({"content": text[i : i + piece]}) for i in range(0, len(text), piece)]
    for index, call in enumerate(message.get("tool_calls") or []):
        fn = call["function"]
        out.append(chunk({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                          "function": {"name": fn["name"], "arguments": ""}}]}))
        args = fn["arguments"]
        out += [chunk({"tool_calls": [{"index": index, "function": {"arguments": args[i : i + piece]}}]})
                for i in range(0, len(args), piece)]
    out.append(chunk({}, choice.get("finish_reason") or "stop"))
    out.append({"id": payload.get("id"), "object": "chat.completion.chunk", "choices": [], "usage": payload.get("usage")})
    return out


class ScriptedServer:
    def __init__(self, handler: Handler, chunk_delay: float = 0.0):
        """`chunk_delay`: seconds between the chunks of a streamed (`"stream": true`) answer."""
        self.handler = handler
        self.chunk_delay = chunk_delay
        self.disconnected = threading.Event()  # a client closed a stream before its end
        self.requests: list[dict[str, Any]] = []
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    body = {}
                outer.requests.append(body)
                status, payload = 200, None
                try:
                    result = outer.handler(body)
                except Delay as d:  # raised or returned, both mean "answer late"
                    result = d
                if isinstance(result, Delay):
                    time.sleep(result.seconds)
                    result = result.then if result.then is not None else completion("late")
                if isinstance(result, tuple):
                    status, payload = result
                else:
                    payload = result
                if body.get("stream") and status == 200 and isinstance(payload, dict) and "choices" in payload:
                    self._stream(payload)
                    return
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def _stream(self, payload: dict[str, Any]) -> None:
                """Server-sent events, one chunk at a time (no Content-Length: the connection closes)."""
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for chunk in stream_chunks(payload):
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                        time.sleep(outer.chunk_delay)
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    outer.disconnected.set()
                self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
