"""ChatModel over the OpenAI Chat Completions API (OpenAI, Azure OpenAI and OpenAI-compatible servers).

Each ``OpenAIChatModel`` owns its own ``openai.AsyncOpenAI`` (or ``AsyncAzureOpenAI``) client with
``max_retries=0``: retries and fallbacks are ``RetryingChatModel``'s job. Streamed chunks are passed on as
``ChatDelta``s exactly as they arrive (tool-call fragments are not merged), followed by one usage delta.
The request goes through the SDK's client (``client.post`` with a pre-serialized body) and the event stream is
decoded without per-chunk SDK objects (``openai_decode.py``; see ``stream`` for why). An answer that is no event
stream is named (``openai_answer.py``); a tool call written as text becomes a call (``text_tool_calls.py``).

The adapter reads model parameters (model, temperature, max tokens, parallel tool calls) from the
``LLMConfig`` it was built with, not from ``request.config``, so a fallback model keeps its own settings.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

import openai
import orjson

from voice_letta.agent.models import LLMConfig, ProviderName
from voice_letta.agent.ports import (
    ChatDelta,
    ChatMessage,
    ChatRequest,
    ToolChoice,
    ToolSpec,
)
from voice_letta.errors import ProviderUnavailable
from voice_letta.providers._errors import map_provider_errors
from voice_letta.providers.openai_answer import sniff
from voice_letta.providers.openai_decode import (
    DRAIN_AFTER_DONE_S,  # noqa: F401 - defined here before openai_decode.py; tests read it from this module
    StreamEnd,
    completion_deltas,
    listed,
    missing_finish,
    stream_deltas,
)
from voice_letta.providers.openai_send import RequestSender, http_client
from voice_letta.providers.text_tool_calls import TextToolCalls
from voice_letta.providers.tool_names import OPENAI_MAX, SAME_NAMES, ToolNames

log = logging.getLogger(__name__)

MaxTokensParam = Literal["max_tokens", "max_completion_tokens"]



# ---------------------------------------------------------------------------------------------------------
# Request conversion (pure)
# ---------------------------------------------------------------------------------------------------------


def to_openai_messages(messages: Sequence[ChatMessage], names: ToolNames = SAME_NAMES) -> list[dict[str, Any]]:
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
                        "function": {"name": names.api(tc.name), "arguments": tc.arguments or "{}"},
                    }
                    for tc in m.tool_calls
                ]
            elif m.content is None:
                msg["content"] = ""
            out.append(msg)
        elif m.images:
            parts: list[dict[str, Any]] = [{"type": "text", "text": m.content}] if m.content else []
            for image in m.images:
                url: dict[str, Any] = {"url": image.url}
                if image.detail is not None:
                    url["detail"] = image.detail
                parts.append({"type": "image_url", "image_url": url})
            out.append({"role": m.role, "content": parts})
        else:
            out.append(_plain_message(m))
    return out


# The agent hands the same ChatMessage objects for the lines of a window turn after turn (agent/context.py): the wire
# form of each plain one is built once. Nothing changes these dicts: the request body is serialised from them.
_WIRE: dict[int, tuple[ChatMessage, dict[str, Any]]] = {}  # id(message) -> (message, its wire form)
_WIRE_KEPT = 4096
_WIRE_LINE_CHARS = 2000  # longer lines are built every time: what the cache keeps alive stays small


def _plain_message(m: ChatMessage) -> dict[str, Any]:
    content = m.content or ""
    if m.role == "system" or len(content) > _WIRE_LINE_CHARS:  # the system prompt is new every turn: not kept
        return {"role": m.role, "content": content}
    found = _WIRE.get(id(m))
    if found is None or found[0] is not m:
        if len(_WIRE) >= _WIRE_KEPT:
            _WIRE.clear()
        found = _WIRE[id(m)] = (m, {"role": m.role, "content": content})  # m kept: its id is not reused
    return found[1]


def to_openai_tools(
    tools: Sequence[ToolSpec], *, strict: bool = False, names: ToolNames = SAME_NAMES
) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for t in tools:
        fn: dict[str, Any] = {"name": names.api(t.name), "description": t.description, "parameters": t.parameters}
        if t.strict or strict:
            fn["strict"] = True
        result.append({"type": "function", "function": fn})
    return result


def to_openai_tool_choice(choice: ToolChoice, names: ToolNames = SAME_NAMES) -> str | dict[str, Any]:
    if choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "function": {"name": names.api(choice)}}


def build_params(
    config: LLMConfig,
    request: ChatRequest,
    *,
    max_tokens_param: MaxTokensParam = "max_completion_tokens",
    prompt_cache_key: bool = False,
    names: ToolNames = SAME_NAMES,
) -> dict[str, Any]:
    """Keyword arguments for ``chat.completions.create`` (without ``stream``).

    The request's per-call ``temperature``/``max_tokens`` win over the config's; ``prompt_cache_key`` (OpenAI's
    own API only) sends the request's ``cache_key`` so requests of one agent land on the same prompt cache. Tool names
    go out through ``names`` (``providers/tool_names.py``: dotted names are refused by many OpenAI models).
    """
    params: dict[str, Any] = {
        "model": config.model,
        "messages": to_openai_messages(request.messages, names),
        "temperature": config.temperature if request.temperature is None else request.temperature,
        "stream_options": {"include_usage": True},
    }
    max_tokens = config.max_tokens if request.max_tokens is None else request.max_tokens
    if max_tokens is not None:
        params[config.max_tokens_param if config.max_tokens_param != "auto" else max_tokens_param] = max_tokens
    if prompt_cache_key and config.prompt_cache and request.cache_key:
        params["prompt_cache_key"] = request.cache_key
    if request.tools:
        params["tools"] = to_openai_tools(request.tools, strict=config.strict, names=names)
        params["tool_choice"] = to_openai_tool_choice(request.tool_choice, names)
        params["parallel_tool_calls"] = config.parallel_tool_calls
    return params


def is_openai_host(base_url: str | None) -> bool:
    """Is this OpenAI's own API (no base URL means the SDK's default, api.openai.com)?"""
    if not base_url:
        return True
    try:
        host = urlsplit(base_url if "://" in base_url else f"https://{base_url}").hostname
    except ValueError:
        return False
    return host == "api.openai.com"


def _text_calls(request: ChatRequest, names: ToolNames) -> TextToolCalls | None:
    """Hermes-style calls written as text become tool calls, for the tools this request offers (text_tool_calls)."""
    if not request.tools or request.tool_choice == "none":
        return None
    offered = {t.name: t.name for t in request.tools}
    offered.update({names.api(t.name): t.name for t in request.tools})
    return TextToolCalls(offered)


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
        max_tokens_param: MaxTokensParam | None = None,
        provider_label: str | None = None,
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        self.config = config
        self._api_key = api_key
        # OpenAI's own API wants max_completion_tokens (its reasoning models refuse max_tokens) and takes a
        # prompt_cache_key; every other OpenAI-protocol server (llama.cpp, LM Studio, vLLM, hosted ones)
        # understands max_tokens and may refuse unknown fields.
        official = client is None and is_openai_host(base_url)
        self._max_tokens_param: MaxTokensParam = max_tokens_param or (
            "max_completion_tokens" if official else "max_tokens")
        self._prompt_cache_key = official
        self._label = provider_label or str(config.provider)
        self._client = client or openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=config.timeout_s,
            http_client=http_client(config.timeout_s),
        )
        # A client built here (a fixed key, no Azure routing) sends every request from one template the SDK built;
        # a client passed in (Azure) goes through ``client.post`` each time (providers/openai_send.py).
        self._sender = RequestSender(self._client, own_client=client is None)

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
            http_client=http_client(config.timeout_s),
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
        names = ToolNames.of(request, limit=OPENAI_MAX)
        params = build_params(self.config, request, max_tokens_param=self._max_tokens_param,
                              prompt_cache_key=self._prompt_cache_key, names=names)
        params["stream"] = True
        finished = called = False
        async with map_provider_errors(self._label, (self._api_key,)):
            # The SDK's own ``chat.completions.create`` walks every message of the request through its TypedDict
            # transformer and builds a pydantic model per streamed chunk: together more than half of a turn's
            # server CPU (docs/architecture.md). The body we built goes out as it is (orjson bytes) through the SDK's
            # client, with its auth, base URL, headers, timeouts and HTTP error mapping (providers/openai_send.py),
            # and the event stream is decoded here.
            sent = await self._sender.send(orjson.dumps(params), params)
            try:
                # An HTML page, a JSON error or a whole completion instead of an event stream (openai_answer.py).
                answer = await sniff(sent.parts, label=self._label, status=sent.status,
                                     content_type=sent.content_type, location=sent.location,
                                     secrets=(self._api_key,))
                end = StreamEnd()
                source = (listed(completion_deltas(answer.completion, names)) if answer.completion is not None
                          else stream_deltas(sent.parts, sent.request, self._label, names, sent.at_eof, answer.head,
                                             end))
                text_calls = _text_calls(request, names)
                async for delta in source:
                    finished = finished or delta.finish_reason is not None
                    called = called or bool(delta.tool_calls)
                    if text_calls is None or not (delta.content or delta.finish_reason or delta.tool_calls):
                        yield delta
                        continue
                    for out in text_calls.feed(delta):
                        yield out
                if not finished and end.done:  # [DONE] without a finish_reason: a whole reply all the same
                    finished = True
                    last = missing_finish(self._label, called)
                    for out in [last] if text_calls is None else text_calls.feed(last):
                        yield out
                if text_calls is not None:
                    for out in text_calls.flush():
                        yield out
            finally:
                await sent.aclose()
        if not finished:
            raise ProviderUnavailable(f"{self._label}: the stream ended without [DONE] or a finish_reason (cut off)")

    async def aclose(self) -> None:
        await self._client.close()
