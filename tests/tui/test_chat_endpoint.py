"""The chat screen on an OpenAI-compatible endpoint that streams (SSE) over real HTTP on 127.0.0.1:
the reply grows chunk by chunk, the tool card and the log are right, and Esc closes a stream that
is still arriving. The endpoint is the scripted server (it stands in for vLLM / a hosted model)."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from agent.llm_client import ChatClient, EndpointConfig
from agent.policies.openai import OpenAIPolicy
from tests.support.scripted_server import ScriptedServer, completion
from tests.tui.conftest import streamed_texts, wait_for
from tui.widgets.message import MessageBubble
from tui.widgets.panels import StatsPanel
from tui.widgets.tool_card import ToolCallCard

pytestmark = pytest.mark.anyio

REPLY = "Thai Orchid in San Jose is inexpensive and serves Thai food. Shall I book a table there?"


def script(body: dict) -> dict:
    """Search first; once the tool result is in the conversation, answer."""
    last = body["messages"][-1]
    if last["role"] == "user" and last["content"].startswith("["):
        return completion(tool_calls=[{"name": "respond_to_user", "arguments": {"message": REPLY}}])
    return completion(tool_calls=[{"name": "FindRestaurants", "arguments": {"city": "San Jose", "cuisine": "Thai"}}])


def endpoint_policy(server: ScriptedServer) -> OpenAIPolicy:
    client = ChatClient(EndpointConfig(base_url=server.base_url, model="scripted", timeout_s=10, max_retries=0))
    return OpenAIPolicy(client)


def bubbles(app, role: str) -> list[str]:
    return [b.text for b in app.screen.query(MessageBubble) if b.role == role]


async def send(pilot, text: str) -> None:
    pilot.app.screen.query_one("#prompt", Input).value = text
    await pilot.press("enter")


async def test_a_streamed_endpoint_reply_grows_in_the_chat(make_app, session_log):
    with ScriptedServer(script, chunk_delay=0.01) as server:
        app = make_app(endpoint_policy(server))
        async with app.run_test(size=(120, 40)) as pilot:
            with streamed_texts() as seen:
                await send(pilot, "Thai food in San Jose")
                await wait_for(pilot, lambda: not app.screen.busy and bubbles(app, "assistant"), timeout=20)
            assert all(r.get("stream") for r in server.requests) and len(server.requests) == 2
            card = app.screen.query_one(ToolCallCard)
            assert card.call.name == "FindRestaurants" and card.results[0]["restaurant_name"] == "Thai Orchid"
            assert bubbles(app, "assistant") == [REPLY]
            stats = app.screen.query_one(StatsPanel).last
            assert stats.steps == 2 and stats.completion_tokens == 2  # the usage chunks were read
    partial = [s for s in seen if s and s != REPLY]
    assert len(set(partial)) >= 5 and all(REPLY.startswith(s) for s in partial)  # grew piece by piece
    (summary,) = session_log.list_sessions()
    assert [m["role"] for m in session_log.get(summary.id).messages] == ["user", "assistant", "user", "assistant"]


async def test_escape_closes_a_stream_that_is_still_arriving(make_app):
    def slow_reply(body: dict) -> dict:
        return completion(tool_calls=[{"name": "respond_to_user", "arguments": {"message": "word " * 200}}])

    with ScriptedServer(slow_reply, chunk_delay=0.05) as server:  # ~170 chunks: ~8 s to arrive
        app = make_app(endpoint_policy(server))
        async with app.run_test(size=(100, 30)) as pilot:
            await send(pilot, "Tell me everything")
            await wait_for(pilot, lambda: app.screen._streaming is not None and app.screen._streaming.text)
            await pilot.press("escape")
            await wait_for(pilot, lambda: not app.screen.busy, timeout=3)
            assert "Stopped." in bubbles(app, "notice")
            # what had arrived stays on screen, cut where the stream was closed
            (partial,) = bubbles(app, "assistant")
            assert partial and ("word " * 200).startswith(partial) and len(partial) < 500
            assert not app.screen.query_one("#prompt", Input).disabled
            assert app.screen.query_one(StatsPanel).last.cancelled
        # the client hung up: the server's next writes fail
        assert server.disconnected.wait(5)
