"""The openai policy against `resto serve` on 127.0.0.1 (a real HTTP server over a tiny local model),
and against the scripted server for the shapes a tiny model cannot produce (text-only tool calls,
malformed arguments, errors)."""

from __future__ import annotations

import threading

import pytest

from agent.conversation import ToolCall, user_message
from agent.llm_client import ChatClient, EndpointConfig
from agent.model_loading import load_model
from agent.policies.hf import HFPolicy
from agent.policies.openai import OpenAIPolicy
from agent.serve import BackgroundServer, ServeConfig, create_app
from tests.support.parrot import PARROT_KW, PARROT_MESSAGE, parrot_model_dir
from tests.support.scripted_server import ScriptedServer, completion


@pytest.fixture(scope="module")
def parrot(tiny_model_dir, tmp_path_factory):
    return load_model(str(parrot_model_dir(tmp_path_factory, tiny_model_dir)), device="cpu")


@pytest.fixture(scope="module")
def served(parrot):
    with BackgroundServer(create_app(parrot, ServeConfig(max_new_tokens=80))) as srv:
        yield srv


def client(base_url: str) -> ChatClient:
    return ChatClient(EndpointConfig(base_url=base_url, model="resto", max_retries=0, timeout_s=60))


def test_openai_policy_against_resto_serve(served, parrot):
    policy = OpenAIPolicy(client(served.base_url), **PARROT_KW)
    local = HFPolicy(parrot, reuse_cache=False, max_new_tokens=80, **PARROT_KW)
    msgs = [user_message("hello")]
    for turn in range(2):
        step = policy.next_call(msgs)
        assert step.error is None, step.raw_text
        assert step.call.name == "respond_to_user" and step.call.message == PARROT_MESSAGE
        assert step.prompt_tokens == local.next_call(msgs).prompt_tokens  # same prompt as the local policy
        msgs += [step.call.to_message(), user_message(f"more {turn}")]
    assert step.cached_tokens > 0  # the server reused its KV cache for the second turn


def test_openai_policy_streams_the_message(served):
    policy = OpenAIPolicy(client(served.base_url), **PARROT_KW)
    deltas: list[str] = []
    step = policy.next_call([user_message("hello")], on_text=deltas.append)
    assert step.call.message == PARROT_MESSAGE
    assert "".join(deltas) == PARROT_MESSAGE and len(deltas) > 3
    assert step.time_to_first_token_s is not None


def test_cancelled_before_start(served):
    cancel = threading.Event()
    cancel.set()
    step = OpenAIPolicy(client(served.base_url)).next_call([user_message("hi")], cancel=cancel)
    assert step.cancelled and step.call is None


# The scripted server stands in for endpoints that answer in other shapes (e.g. no tool parser).
def test_call_from_text_content():
    call = ToolCall("FindRestaurants", {"city": "Napa", "cuisine": "Thai"})
    with ScriptedServer(lambda body: completion(text=call.to_text())) as server:
        step = OpenAIPolicy(client(server.base_url)).next_call([user_message("Thai in Napa")])
        sent = server.requests[0]
    assert (step.call.name, step.call.arguments) == (call.name, call.arguments)
    assert sent["messages"][0]["role"] == "system" and "<task_description>" in sent["messages"][0]["content"]
    assert [t["function"]["name"] for t in sent["tools"]] == ["respond_to_user", "ReserveRestaurant", "FindRestaurants"]
    assert sent["temperature"] == 0.0


def test_prose_is_a_parse_error_and_http_errors_are_steps():
    with ScriptedServer(lambda body: completion(text="Sure, what city?")) as server:
        step = OpenAIPolicy(client(server.base_url)).next_call([user_message("hi")])
    assert step.call is None and "unparseable" in step.error and step.raw_text == "Sure, what city?"
    with ScriptedServer(lambda body: (400, {"error": "bad"})) as server:
        step = OpenAIPolicy(client(server.base_url)).next_call([user_message("hi")])
    assert step.call is None and step.error.startswith("endpoint error")
