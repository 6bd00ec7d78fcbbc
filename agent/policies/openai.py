"""The `openai` policy: any OpenAI-compatible chat-completions endpoint decides the next call
(vLLM, Ollama, llama.cpp server, a hosted API, or `resto serve`).

    client = ChatClient(EndpointConfig(base_url="http://127.0.0.1:8000/v1", model="resto"))
    policy = OpenAIPolicy(client, tool_schemas(), RenderConfig())
    step = policy.next_call(messages, on_text=print)

It sends the same system prompt as the local policy, the conversation and the tools, greedy.
The call is taken from the response's `tool_calls`, or, for servers that do not parse tool calls,
from `<tool_call>` / JSON text in `content` (parse_tool_call). With `on_text` the request is
streamed (SSE) and the `message` of a respond_to_user call is passed on as it arrives.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from agent.conversation import Message, new_call_id, normalize_messages
from agent.llm_client import ChatClient, ChatResponse, LLMError
from agent.parse import ToolCallParseError, parse_tool_call
from agent.policies.base import PolicyStep, TextCallback
from agent.policies.streaming import MessageStreamer
from agent.render import RenderConfig
from agent.tools import tool_schemas


class OpenAIPolicy:
    def __init__(
        self,
        client: ChatClient,
        tools: list[dict] | None = None,
        render_config: RenderConfig | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
        use_cache: bool = False,
    ):
        self.client = client
        self.tools = tools if tools is not None else tool_schemas()
        self.render_config = render_config or RenderConfig()
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.use_cache = use_cache  # off by default: a chat app wants a fresh answer
        self.description = f"openai: {client.config.model} @ {client.config.base_url}"

    def request_messages(self, messages: list[Message]) -> list[Message]:
        msgs = normalize_messages(messages)
        if msgs and msgs[0].get("role") == "system":
            msgs = msgs[1:]
        return [{"role": "system", "content": self.render_config.system_prompt()}, *msgs]

    def next_call(
        self,
        messages: list[Message],
        *,
        on_text: TextCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> PolicyStep:
        start = time.perf_counter()
        if cancel is not None and cancel.is_set():
            return PolicyStep(raw_text="", error="cancelled", cancelled=True)
        kwargs: dict[str, Any] = {
            "tools": self.tools or None,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        first: list[float] = []
        try:
            if on_text is None:
                response = self.client.chat(self.request_messages(messages), use_cache=self.use_cache, **kwargs)
            else:
                response = self.client.stream_chat(
                    self.request_messages(messages),
                    on_delta=self._streaming_callback(on_text, first, start),
                    cancel=cancel,
                    **kwargs,
                )
        except LLMError as exc:
            return PolicyStep(raw_text="", error=f"endpoint error: {exc}", latency_s=time.perf_counter() - start)
        step = self._to_step(response)
        step.latency_s = time.perf_counter() - start
        step.time_to_first_token_s = first[0] if first else None
        if response.finish_reason == "cancelled":
            step.cancelled, step.call, step.error = True, None, "cancelled"
        return step

    @staticmethod
    def _streaming_callback(on_text: TextCallback, first: list[float], start: float) -> Any:
        """Turn SSE deltas into message-text deltas: tool_call argument fragments are laid out as
        the Qwen3 JSON text `{"name": …, "arguments": …` so one MessageStreamer handles both forms."""
        streamer = MessageStreamer()
        state = {"name": "", "args": "", "content": ""}

        def on_delta(delta: dict[str, Any]) -> None:
            if not first:
                first.append(time.perf_counter() - start)
            state["content"] += delta.get("content") or ""
            for item in delta.get("tool_calls") or []:
                if int(item.get("index", 0)) != 0:
                    continue
                fn = item.get("function") or {}
                state["name"] += fn.get("name") or ""
                state["args"] += fn.get("arguments") or ""
            if state["name"]:
                text = '{"name": ' + json.dumps(state["name"]) + ', "arguments": ' + state["args"]
            else:
                text = state["content"]
            piece = streamer.feed(text)
            if piece:
                on_text(piece)

        return on_delta

    @staticmethod
    def _to_step(response: ChatResponse) -> PolicyStep:
        usage = response.usage or {}
        details = usage.get("prompt_tokens_details") or {}
        step = PolicyStep(
            raw_text=response.text,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            cached_tokens=int(details.get("cached_tokens") or 0),
            extra={"finish_reason": response.finish_reason},
        )
        if response.tool_calls:
            call = response.tool_calls[0]
            call.id = call.id or new_call_id()
            step.raw_text = response.text or call.to_text()
            if "__unparsed__" in call.arguments:
                step.error = "the endpoint returned tool-call arguments that are not JSON"
                step.raw_text = call.arguments["__unparsed__"]
            else:
                step.call = call
            if len(response.tool_calls) > 1:
                step.extra["ignored_calls"] = len(response.tool_calls) - 1
            return step
        try:
            step.call = parse_tool_call(response.text)
        except ToolCallParseError as exc:
            step.error = f"unparseable model output: {exc.reason}"
        return step
