"""`resto serve` over real HTTP on 127.0.0.1 (uvicorn in a thread) with tiny local models: the
OpenAI wire format, non-streaming and SSE streaming, errors, and the ChatClient against it."""

from __future__ import annotations

import json

import httpx
import pytest

from agent.conversation import user_message
from agent.llm_client import ChatClient, EndpointConfig
from agent.model_loading import load_model
from agent.serve import BackgroundServer, ServeConfig, create_app
from tests.support.parrot import PARROT_MESSAGE, PARROT_SYSTEM, parrot_model_dir


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    loaded = load_model(str(parrot_model_dir(tmp_path_factory, tiny_model_dir)), device="cpu")
    with BackgroundServer(create_app(loaded, ServeConfig(max_new_tokens=80, model_name="parrot"))) as srv:
        yield srv


def body(**extra):
    return {"model": "parrot", "messages": [{"role": "system", "content": PARROT_SYSTEM}, user_message("hello")],
            **extra}


def test_models(server):
    data = httpx.get(server.base_url + "/models").json()
    assert data["data"][0]["id"] == "parrot"


def test_non_streaming_tool_call(server):
    raw = httpx.post(server.base_url + "/chat/completions", json=body(), timeout=60).json()
    choice = raw["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["function"]["name"] == "respond_to_user"
    assert json.loads(call["function"]["arguments"]) == {"message": PARROT_MESSAGE}
    assert raw["usage"]["completion_tokens"] > 0


def test_streaming_chunks_assemble_to_the_call(server):
    chunks, lines = [], []
    with httpx.stream("POST", server.base_url + "/chat/completions", json=body(stream=True), timeout=60) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            lines.append(line)
            if line.startswith("data: ") and line != "data: [DONE]":
                chunks.append(json.loads(line[6:]))
    assert [x for x in lines if x][-1] == "data: [DONE]"
    pieces = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks if c["choices"][0]["delta"].get("tool_calls")]
    assert len(pieces) > 3  # the message arrives in several deltas
    assert pieces[0]["function"]["name"] == "respond_to_user" and pieces[0]["id"]
    arguments = "".join(p["function"]["arguments"] for p in pieces)
    assert json.loads(arguments) == {"message": PARROT_MESSAGE}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_chat_client_against_serve(server):
    with ChatClient(EndpointConfig(base_url=server.base_url, model="parrot", max_retries=0)) as client:
        messages = body()["messages"]
        response = client.chat(messages, use_cache=False, max_tokens=80)
        assert response.tool_calls[0].arguments == {"message": PARROT_MESSAGE}
        deltas = []
        streamed = client.stream_chat(messages, on_delta=deltas.append, max_tokens=80)
        assert streamed.tool_calls[0].arguments == {"message": PARROT_MESSAGE}
        assert len(deltas) > 3


def test_bad_requests_are_400(server):
    r = httpx.post(server.base_url + "/chat/completions", content=b"not json")
    assert r.status_code == 400 and "JSON" in r.json()["error"]["message"]
    r = httpx.post(server.base_url + "/chat/completions", json={"messages": []})
    assert r.status_code == 400


def test_cli_serve_reports_unloadable_model(capsys):
    from cli.main import main

    assert main(["serve", "--model", "nobody/not-cached"]) == 2
    assert "resto model demo" in capsys.readouterr().err
