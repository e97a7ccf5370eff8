"""ChatModel over the OpenAI Chat Completions API (OpenAI, Azure OpenAI and OpenAI-compatible servers).

Each ``OpenAIChatModel`` owns its own ``openai.AsyncOpenAI`` (or ``AsyncAzureOpenAI``) client with
``max_retries=0``: retries and fallbacks are ``RetryingChatModel``'s job. Streamed chunks are passed on as
``ChatDelta``s exactly as they arrive (tool-call fragments are not merged), followed by one usage delta.

The adapter reads model parameters (model, temperature, max tokens, parallel tool calls) from the
``LLMConfig`` it was built with, not from ``request.config``, so a fallback model keeps its own settings.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

import openai
from openai.types.chat.chat_completion_chunk import ChoiceDelta

from voice_letta.agent.models import LLMConfig, ProviderName, Usage
from voice_letta.agent.ports import (
    ChatDelta,
    ChatMessage,
    ChatRequest,
    FinishReason,
    ToolCallDelta,
    ToolChoice,
    ToolSpec,
)
from voice_letta.errors import ProviderUnavailable
from voice_letta.providers._errors import map_provider_errors

log = logging.getLogger(__name__)

MaxTokensParam = Literal["max_tokens", "max_completion_tokens"]

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


# ---------------------------------------------------------------------------------------------------------
# Request conversion (pure)
# ---------------------------------------------------------------------------------------------------------


def to_openai_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            out.append({"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.content or ""})
        elif m.role == "assistant":
            msg: dict[str, Any] = {"role": "assistant", "content": m.content}
            if m.tool_calls:
                msg["tool_calls"] = [
                    {
                        "id": tc.id,
                        "type": "function",
                        "function": {"name": tc.name, "arguments": tc.arguments or "{}"},
                    }
                    for tc in m.tool_calls
                ]
            elif m.content is None:
                msg["content"] = ""
            out.append(msg)
        else:
            out.append({"role": m.role, "content": m.content or ""})
    return out


def to_openai_tools(tools: Sequence[ToolSpec], *, strict: bool = False) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for t in tools:
        fn: dict[str, Any] = {"name": t.name, "description": t.description, "parameters": t.parameters}
        if t.strict or strict:
            fn["strict"] = True
        result.append({"type": "function", "function": fn})
    return result


def to_openai_tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    if choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def build_params(
    config: LLMConfig,
    request: ChatRequest,
    *,
    max_tokens_param: MaxTokensParam = "max_completion_tokens",
) -> dict[str, Any]:
    """Keyword arguments for ``chat.completions.create`` (without ``stream``)."""
    params: dict[str, Any] = {
        "model": config.model,
        "messages": to_openai_messages(request.messages),
        "temperature": config.temperature,
        "stream_options": {"include_usage": True},
    }
    if config.max_tokens is not None:
        params[max_tokens_param] = config.max_tokens
    if request.tools:
        params["tools"] = to_openai_tools(request.tools, strict=config.strict)
        params["tool_choice"] = to_openai_tool_choice(request.tool_choice)
        params["parallel_tool_calls"] = config.parallel_tool_calls
    return params


def usage_from_openai(usage: Any) -> Usage:
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    prompt = usage.prompt_tokens or 0
    completion = usage.completion_tokens or 0
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=usage.total_tokens or prompt + completion,
        cached_tokens=cached,
    )


# ---------------------------------------------------------------------------------------------------------
# The adapter
# ---------------------------------------------------------------------------------------------------------


class OpenAIChatModel:
    """Streams chat completions from one OpenAI-protocol endpoint.

    ``OpenAIChatModel(config, api_key=..., base_url=None)`` talks to OpenAI (or any compatible server
    at ``base_url``); ``OpenAIChatModel.azure(config, api_key=..., endpoint=..., api_version=...)`` to an
    Azure OpenAI resource, with ``config.model`` as the deployment name.
    """

    def __init__(
        self,
        config: LLMConfig,
        *,
        api_key: str,
        base_url: str | None = None,
        max_tokens_param: MaxTokensParam = "max_completion_tokens",
        provider_label: str | None = None,
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        self.config = config
        self._api_key = api_key
        self._max_tokens_param: MaxTokensParam = max_tokens_param
        self._label = provider_label or str(config.provider)
        self._client = client or openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=config.timeout_s
        )

    @classmethod
    def azure(
        cls, config: LLMConfig, *, api_key: str, endpoint: str, api_version: str
    ) -> OpenAIChatModel:
        client = openai.AsyncAzureOpenAI(
            azure_endpoint=endpoint,
            api_version=api_version,
            api_key=api_key,
            max_retries=0,
            timeout=config.timeout_s,
        )
        return cls(
            config, api_key=api_key, provider_label=str(ProviderName.AZURE), client=client,
            max_tokens_param="max_completion_tokens",
        )

    @property
    def client(self) -> openai.AsyncOpenAI:
        return self._client

    def __repr__(self) -> str:
        return f"OpenAIChatModel(provider={self._label!r}, model={self.config.model!r})"

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        params = build_params(self.config, request, max_tokens_param=self._max_tokens_param)
        finished = False
        async with map_provider_errors(self._label, (self._api_key,)):
            sdk_stream = await self._client.chat.completions.create(stream=True, **params)
            async with sdk_stream:
                async for chunk in sdk_stream:
                    if chunk.usage is not None:
                        usage_delta: ChatDelta | None = ChatDelta(usage=usage_from_openai(chunk.usage))
                    else:
                        usage_delta = None
                    for choice in chunk.choices[:1]:
                        delta = choice.delta
                        if delta is None:  # some compatible servers omit it on the final chunk
                            delta = ChoiceDelta()
                        tool_deltas = tuple(
                            ToolCallDelta(
                                index=tc.index,
                                id=tc.id,
                                name=tc.function.name if tc.function else None,
                                arguments=tc.function.arguments if tc.function else None,
                            )
                            for tc in delta.tool_calls or ()
                        )
                        finish = _FINISH.get(choice.finish_reason, "stop") if choice.finish_reason else None
                        if delta.content or tool_deltas or finish:
                            yield ChatDelta(
                                content=delta.content or None, tool_calls=tool_deltas, finish_reason=finish
                            )
                        finished = finished or finish is not None
                    if usage_delta is not None:
                        yield usage_delta
        if not finished:
            raise ProviderUnavailable(f"{self._label}: stream ended without a finish_reason")

    async def aclose(self) -> None:
        await self._client.close()
