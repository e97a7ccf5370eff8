"""ChatModel over Anthropic's Messages API (raw streaming events), speaking OpenAI-shaped deltas.

Request mapping (OpenAI chat terms → Messages API):

- ``system`` messages → the ``system`` parameter (joined with blank lines, in order);
- assistant ``tool_calls`` → ``tool_use`` blocks (arguments parsed to a JSON object);
- ``tool`` results → ``tool_result`` blocks in a user message; consecutive messages of one role
  are merged into one message, with ``tool_result`` blocks first as the API requires;
- tool choice auto/none/required/<name> → auto/none/any/tool; ``parallel_tool_calls=False`` →
  ``disable_parallel_tool_use``; ``max_tokens`` defaults to 1024 (the API requires it).

Stream mapping: ``text_delta`` → content; a ``tool_use`` block → a ``ToolCallDelta`` with id and name at
``content_block_start`` and each ``input_json_delta.partial_json`` as an argument fragment (``index``
is the ordinal of the tool call, not of the content block); stop_reason end_turn/stop_sequence →
"stop", tool_use → "tool_calls", max_tokens → "length", refusal → "content_filter"; usage comes from
``message_start`` and ``message_delta`` (prompt tokens include cache reads and writes, as OpenAI's do).

Tool names: Anthropic accepts ``^[a-zA-Z0-9_-]{1,128}$``; ours may also hold dots ("weather.get"). A name it
would refuse goes out under a stand-in and a ``tool_use`` the model streams back carries our name again
(``providers/tool_names.py``).

``anthropic`` 2.x create() has no ``temperature`` parameter, so ``config.temperature`` is not sent.

Prompt caching (``config.prompt_cache``, on by default): ``cache_control: {"type": "ephemeral"}`` marks the
end of the tools, of the system prompt, of the history before the newest user input and, in tool rounds, of
the whole request (at most the API's four breakpoints). The system prompt and the history are byte-stable from
turn to turn (the volatile time note rides on the newest user message), so each turn reads the previous
turn's prefix from the cache; ``cache_read_input_tokens`` come back as ``cached_tokens``.

The base URL may be given with or without a trailing ``/v1`` (the SDK adds ``/v1/messages`` itself).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anthropic
import httpx2

from voice_letta.agent.models import LLMConfig, Usage
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
from voice_letta.providers.openai_answer import not_a_stream, read_capped
from voice_letta.providers.tool_names import SAME_NAMES, ToolNames

log = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 1024

_STOP: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content_filter",
}


# ---------------------------------------------------------------------------------------------------------
# Request conversion (pure)
# ---------------------------------------------------------------------------------------------------------


def _tool_input(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return {"arguments": arguments}
    return value if isinstance(value, dict) else {"value": value}




# The Messages API refuses a message whose text blocks are all whitespace ("text content blocks must contain
# non-whitespace text"), and the history is sent on every turn: one such message would fail every later turn.
BLANK_MESSAGE = "(a blank message)"


def to_anthropic_messages(
    messages: Sequence[ChatMessage], names: ToolNames = SAME_NAMES
) -> tuple[str | None, list[dict[str, Any]]]:
    """(system, messages) for the Messages API."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for m in messages:
        blocks: list[dict[str, Any]] = []
        if m.role == "system":
            if m.content:
                system.append(m.content)
            continue
        if m.role == "tool":
            role = "user"
            blocks.append({"type": "tool_result", "tool_use_id": m.tool_call_id or "", "content": m.content or ""})
        elif m.role == "assistant":
            role = "assistant"
            if m.content and m.content.strip():  # a blank reply ("\n") is nothing said
                blocks.append({"type": "text", "text": m.content})
            blocks.extend(
                {"type": "tool_use", "id": tc.id, "name": names.api(tc.name), "input": _tool_input(tc.arguments)}
                for tc in m.tool_calls
            )
        else:
            role = "user"
            blocks.extend(anthropic_image(image.url) for image in m.images)  # images before their text
            if m.content and m.content.strip():
                blocks.append({"type": "text", "text": m.content})
            elif m.content and not blocks:  # typed whitespace: still a turn the reply answers, so it stays one
                blocks.append({"type": "text", "text": BLANK_MESSAGE})
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        if turn["role"] == "user":  # tool_result blocks must lead a user message
            content = turn["content"]
            turn["content"] = [b for b in content if b["type"] == "tool_result"] + [
                b for b in content if b["type"] != "tool_result"
            ]
    return ("\n\n".join(system) or None), turns


def anthropic_image(url: str) -> dict[str, Any]:
    """An image block: base64 from a ``data:`` URI, else the URL for Anthropic to fetch."""
    if url[:5].lower() == "data:":
        head, _, data = url.partition(",")
        media_type = head[5:].split(";", 1)[0].lower().replace("image/jpg", "image/jpeg")
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": "".join(data.split())}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def to_anthropic_tools(
    tools: Sequence[ToolSpec], *, strict: bool = False, names: ToolNames = SAME_NAMES
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for t in tools:
        tool: dict[str, Any] = {"name": names.api(t.name), "description": t.description, "input_schema": t.parameters}
        if t.strict or strict:
            tool["strict"] = True
        out.append(tool)
    return out


def to_anthropic_tool_choice(choice: ToolChoice, *, parallel: bool, names: ToolNames = SAME_NAMES) -> dict[str, Any]:
    if choice == "none":
        return {"type": "none"}
    if choice == "auto":
        result: dict[str, Any] = {"type": "auto"}
    elif choice == "required":
        result = {"type": "any"}
    else:
        result = {"type": "tool", "name": names.api(choice)}
    if not parallel:
        result["disable_parallel_tool_use"] = True
    return result


CACHE_CONTROL: dict[str, str] = {"type": "ephemeral"}


def _mark(block: dict[str, Any]) -> None:
    block["cache_control"] = dict(CACHE_CONTROL)


def add_cache_breakpoints(params: dict[str, Any]) -> None:
    """Put ``cache_control`` on the last tool, the system prompt, the history and (tool rounds) the request."""
    tools = params.get("tools")
    if tools:
        _mark(tools[-1])
    system = params.get("system")
    if isinstance(system, str):
        params["system"] = [{"type": "text", "text": system}]
        _mark(params["system"][-1])
    turns: list[dict[str, Any]] = params["messages"]
    # The newest user input: the last user turn that carries text (tool results alone are a tool round).
    newest = max((i for i, t in enumerate(turns)
                  if t["role"] == "user" and any(b["type"] == "text" for b in t["content"])), default=None)
    marks = []
    if newest is not None and newest > 0:
        marks.append(newest - 1)
    if newest is not None and newest < len(turns) - 1:
        marks.append(len(turns) - 1)
    for i in marks:
        _mark(turns[i]["content"][-1])


def build_params(config: LLMConfig, request: ChatRequest, names: ToolNames = SAME_NAMES) -> dict[str, Any]:
    """Keyword arguments for ``messages.create`` (without ``stream``); tool names through ``names``."""
    system, messages = to_anthropic_messages(request.messages, names)
    max_tokens = config.max_tokens if request.max_tokens is None else request.max_tokens
    params: dict[str, Any] = {
        "model": config.model,
        "messages": messages,
        "max_tokens": max_tokens if max_tokens is not None else DEFAULT_MAX_TOKENS,
    }
    if system is not None:
        params["system"] = system
    if request.tools:
        params["tools"] = to_anthropic_tools(request.tools, strict=config.strict, names=names)
        params["tool_choice"] = to_anthropic_tool_choice(
            request.tool_choice, parallel=config.parallel_tool_calls, names=names
        )
    if config.prompt_cache:
        add_cache_breakpoints(params)
    return params


def anthropic_base_url(base_url: str | None) -> str | None:
    """The SDK's base URL: the root, with or without a trailing ``/v1`` (and slash) given."""
    if not base_url:
        return base_url
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


# ---------------------------------------------------------------------------------------------------------
# The adapter
# ---------------------------------------------------------------------------------------------------------


class _UsageAcc:
    __slots__ = ("cache_read", "cache_write", "input", "output")

    def __init__(self) -> None:
        self.input = self.output = self.cache_read = self.cache_write = 0

    def update(self, usage: Any) -> None:
        if usage is None:
            return
        if getattr(usage, "input_tokens", None) is not None:
            self.input = usage.input_tokens
        if getattr(usage, "output_tokens", None) is not None:
            self.output = usage.output_tokens
        if getattr(usage, "cache_read_input_tokens", None) is not None:
            self.cache_read = usage.cache_read_input_tokens
        if getattr(usage, "cache_creation_input_tokens", None) is not None:
            self.cache_write = usage.cache_creation_input_tokens

    def to_usage(self) -> Usage:
        prompt = self.input + self.cache_read + self.cache_write
        return Usage(
            prompt_tokens=prompt,
            completion_tokens=self.output,
            total_tokens=prompt + self.output,
            cached_tokens=self.cache_read,
        )


class AnthropicChatModel:
    """Streams from Anthropic's Messages API: ``AnthropicChatModel(config, api_key=..., base_url=None)``."""

    def __init__(
        self,
        config: LLMConfig,
        *,
        api_key: str,
        base_url: str | None = None,
        client: anthropic.AsyncAnthropic | None = None,
    ) -> None:
        self.config = config
        self._api_key = api_key
        self._client = client or anthropic.AsyncAnthropic(
            api_key=api_key, base_url=anthropic_base_url(base_url), max_retries=0, timeout=config.timeout_s
        )

    @property
    def client(self) -> anthropic.AsyncAnthropic:
        return self._client

    def __repr__(self) -> str:
        return f"AnthropicChatModel(model={self.config.model!r})"

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        names = ToolNames.of(request)
        params = build_params(self.config, request, names)
        usage = _UsageAcc()
        ordinal_of_block: dict[int, int] = {}  # content block index -> tool-call ordinal
        args_seen: set[int] = set()
        stopped = False
        finish: FinishReason | None = None
        async with map_provider_errors("anthropic", (self._api_key,)):
            sdk_stream = await self._client.messages.create(stream=True, **params)
            await _refuse_a_page(sdk_stream.response, self._api_key)
            async with sdk_stream:
                async for event in sdk_stream:
                    match event.type:
                        case "message_start":
                            usage.update(event.message.usage)
                        case "content_block_start":
                            block = event.content_block
                            if block.type == "tool_use":
                                ordinal = len(ordinal_of_block)
                                ordinal_of_block[event.index] = ordinal
                                name = names.ours(block.name)
                                yield ChatDelta(tool_calls=(ToolCallDelta(ordinal, id=block.id, name=name),))
                            elif block.type == "text" and block.text:
                                yield ChatDelta(content=block.text)
                        case "content_block_delta":
                            delta = event.delta
                            if delta.type == "text_delta":
                                if delta.text:
                                    yield ChatDelta(content=delta.text)
                            elif (
                                delta.type == "input_json_delta"
                                and delta.partial_json
                                and event.index in ordinal_of_block
                            ):
                                ordinal = ordinal_of_block[event.index]
                                args_seen.add(ordinal)
                                yield ChatDelta(tool_calls=(ToolCallDelta(ordinal, arguments=delta.partial_json),))
                        case "content_block_stop":
                            ordinal_or_none = ordinal_of_block.get(event.index)
                            if ordinal_or_none is not None and ordinal_or_none not in args_seen:
                                # A tool called without arguments streams no input_json_delta.
                                args_seen.add(ordinal_or_none)
                                yield ChatDelta(tool_calls=(ToolCallDelta(ordinal_or_none, arguments="{}"),))
                        case "message_delta":
                            usage.update(event.usage)
                            if event.delta.stop_reason is not None:
                                finish = _STOP.get(event.delta.stop_reason, "stop")
                                yield ChatDelta(finish_reason=finish)
                        case "message_stop":
                            stopped = True
                            if finish is None:
                                yield ChatDelta(finish_reason="tool_calls" if ordinal_of_block else "stop")
                            yield ChatDelta(usage=usage.to_usage())
        if not stopped:
            raise ProviderUnavailable("anthropic: stream ended before message_stop")

    async def aclose(self) -> None:
        await self._client.close()


async def _refuse_a_page(response: httpx2.Response, api_key: str) -> None:
    """An HTML page or a JSON body where the event stream should be (a captive portal, a proxy's page, a gateway's
    error with status 200) is the typed error naming it (providers/openai_answer.py), not "stream ended before
    message_stop". Decided by the Content-Type: the SDK reads the body itself, so only one that says HTML or JSON is
    read here (the Anthropic API and the proxies in front of it label their streams ``text/event-stream``)."""
    content_type = response.headers.get("content-type", "")
    if "event-stream" in content_type or not ("html" in content_type or "json" in content_type):
        return
    try:
        body = await read_capped(response.aiter_bytes())
    finally:
        await response.aclose()
    raise not_a_stream(body, label="anthropic", status=response.status_code, content_type=content_type,
                       secrets=(api_key,))
