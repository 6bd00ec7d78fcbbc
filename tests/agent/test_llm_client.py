"""ChatClient against a scripted OpenAI-compatible server on 127.0.0.1 (real HTTP)."""

import threading

import pytest

from agent.conversation import ToolCall, user_message
from agent.llm_client import ChatClient, EndpointConfig, LLMError
from tests.support.scripted_server import Delay, ScriptedServer, completion


def _client(server, tmp_path=None, **kw):
    cfg = EndpointConfig(base_url=server.base_url, model="m", backoff_s=0.01, cache_dir=tmp_path, **kw)
    return ChatClient(cfg)


def test_tool_calls_and_wire_format():
    with ScriptedServer(lambda body: completion(tool_calls=[{"name": "FindRestaurants",
                                                             "arguments": {"city": "Napa"}}])) as server:
        history = [user_message("hi"), ToolCall("respond_to_user", {"message": "Hello"}).to_message()]
        resp = _client(server).chat(history, tools=[{"type": "function"}])
        sent = server.requests[0]
    assert resp.tool_calls[0].name == "FindRestaurants" and resp.tool_calls[0].arguments == {"city": "Napa"}
    # OpenAI wire format: arguments travel as JSON strings
    assert sent["messages"][1]["tool_calls"][0]["function"]["arguments"] == '{"message": "Hello"}'
    assert sent["tools"] == [{"type": "function"}] and sent["temperature"] == 0.0


def test_retries_then_succeeds_and_counts():
    calls = {"n": 0}

    def handler(body):
        calls["n"] += 1
        return (503, {"error": "busy"}) if calls["n"] < 3 else completion("ok")

    with ScriptedServer(handler) as server:
        client = _client(server, max_retries=3)
        assert client.chat([user_message("x")]).text == "ok"
    assert client.stats.retries == 2 and client.stats.requests == 3


def test_timeout_gives_clear_error():
    with ScriptedServer(lambda body: Delay(1.0)) as server:
        client = _client(server, timeout_s=0.2, max_retries=1)
        with pytest.raises(LLMError, match="timed out"):
            client.chat([user_message("x")])
    assert client.stats.failures == 1


def test_client_error_is_not_retried():
    with ScriptedServer(lambda body: (400, {"error": "bad request"})) as server:
        client = _client(server, max_retries=3)
        with pytest.raises(LLMError, match="HTTP 400"):
            client.chat([user_message("x")])
    assert client.stats.requests == 1


def test_cache_serves_repeat_requests(tmp_path):
    with ScriptedServer(lambda body: completion("cached?")) as server:
        client = _client(server, tmp_path)
        first = client.chat([user_message("same")])
        second = client.chat([user_message("same")])
        client.chat([user_message("different")])
        assert len(server.requests) == 2
    assert not first.cached and second.cached and second.text == "cached?"
    assert client.stats.cache_hits == 1


def test_chat_many_respects_concurrency_and_keeps_failures_in_place():
    active = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def handler(body):
        with lock:
            active["now"] += 1
            active["peak"] = max(active["peak"], active["now"])
        import time

        time.sleep(0.05)
        with lock:
            active["now"] -= 1
        text = body["messages"][0]["content"]
        return (400, {"error": "no"}) if text == "bad" else completion(text.upper())

    with ScriptedServer(handler) as server:
        client = _client(server, max_concurrency=2, max_retries=0)
        out = client.chat_many([{"messages": [user_message(t)]} for t in ["a", "bad", "c", "d", "e"]])
    assert [getattr(o, "text", None) for o in out] == ["A", None, "C", "D", "E"]
    assert isinstance(out[1], LLMError)
    assert active["peak"] <= 2
