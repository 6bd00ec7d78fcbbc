"""A scripted OpenAI-compatible server on 127.0.0.1, for tests of the LLM clients.

It stands in for what cannot exist here (a 100B-parameter teacher or judge): real HTTP, real
JSON, answers decided by a Python function. Use:

    def handler(body):               # the request's JSON body
        return completion(text="good")   # or a dict, or (status, dict), or raise/return Delay(s)
    with ScriptedServer(handler) as server:
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


class ScriptedServer:
    def __init__(self, handler: Handler):
        self.handler = handler
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
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

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
