"""Decoding an OpenAI-protocol chat answer: the event stream of ``chat.completion.chunk`` objects, as plain JSON
(``OpenAIChatModel``, providers/openai_chat.py), or a whole ``chat.completion`` a server sent instead.

Servers that answer a little wrongly are taken as they mean it: an event named ``error`` (``event: error`` then
``data: {"message": …}``, as some gateways send it, without an ``error`` key) is an in-stream error; a stream that
ends with ``[DONE]`` but never said a ``finish_reason`` (proxies that drop the last chunk, older compatible servers)
ends as ``stop`` (``tool_calls`` when it called tools) instead of failing a reply that was whole; a stream that ends
with neither is still cut (``ProviderUnavailable``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import openai
import orjson

from voice_letta.agent.models import Usage
from voice_letta.agent.ports import ChatDelta, FinishReason, ToolCallDelta
from voice_letta.errors import ProviderUnavailable
from voice_letta.providers.tool_names import SAME_NAMES, ToolNames
from voice_letta.wire.sse import SseDecoder, SseEvent

log = logging.getLogger(__name__)

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}

def usage_from_openai(usage: dict[str, Any]) -> Usage:
    details = usage.get("prompt_tokens_details")
    cached = (details.get("cached_tokens") if isinstance(details, dict) else None) or 0
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=usage.get("total_tokens") or prompt + completion,
        cached_tokens=cached,
    )


DRAIN_AFTER_DONE_S = 1.0  # a server that keeps the body open after [DONE] is cut off after this


class CallIndexes:
    """Indexes for tool calls a server streams without ``index`` (older Ollama and some proxies send each whole call
    in one chunk with an ``id`` and no index: taken as index 0, two calls became one with both names run together).
    A new id is the next call; a fragment with neither id nor index belongs to the last one."""

    __slots__ = ("_ids",)

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def of(self, call_id: object) -> int:
        if not isinstance(call_id, str):
            return max(len(self._ids) - 1, 0)
        return self._ids.setdefault(call_id, len(self._ids))


def chunk_deltas(chunk: dict[str, Any], names: ToolNames = SAME_NAMES,
                 indexes: CallIndexes | None = None) -> list[ChatDelta]:
    """The ``ChatDelta``s of one decoded ``chat.completion.chunk`` (the first choice; then its usage, if any); a tool
    call's name is ours again (``names``); arguments sent as a JSON object (not the API's string) are sent on as its
    text."""
    out: list[ChatDelta] = []
    choices = chunk.get("choices") or ()
    if choices:
        choice = choices[0]
        delta = choice.get("delta") or {}  # some compatible servers omit it on the final chunk
        tool_deltas = tuple(
            ToolCallDelta(index=_index(tc, indexes), id=tc.get("id"), name=_name(tc, names),
                          arguments=_arguments(tc))
            for tc in delta.get("tool_calls") or ())
        reason = choice.get("finish_reason")
        finish = _FINISH.get(reason, "stop") if reason else None
        content = delta.get("content")
        if content or tool_deltas or finish:
            out.append(ChatDelta(content=content or None, tool_calls=tool_deltas, finish_reason=finish))
    usage = chunk.get("usage")
    if usage:
        out.append(ChatDelta(usage=usage_from_openai(usage)))
    return out


def _index(tool_call: dict[str, Any], indexes: CallIndexes | None) -> int:
    index = tool_call.get("index")
    if isinstance(index, int):
        return index
    return indexes.of(tool_call.get("id")) if indexes is not None else 0


def _arguments(tool_call: dict[str, Any]) -> str | None:
    arguments = (tool_call.get("function") or {}).get("arguments")
    if arguments is None or isinstance(arguments, str):
        return arguments
    return orjson.dumps(arguments).decode()


def _name(tool_call: dict[str, Any], names: ToolNames) -> str | None:
    name = (tool_call.get("function") or {}).get("name")
    return names.ours(name) if isinstance(name, str) else name


def completion_deltas(completion: dict[str, Any], names: ToolNames = SAME_NAMES) -> list[ChatDelta]:
    """The deltas a whole ``chat.completion`` would have streamed (a server that ignored ``stream: true``)."""
    choice = completion["choices"][0] if isinstance(completion["choices"][0], dict) else {}
    message = choice.get("message") or choice.get("delta") or {}
    calls = [{**tc, "index": tc.get("index", i)} for i, tc in enumerate(message.get("tool_calls") or ())
             if isinstance(tc, dict)]
    chunk = {"choices": [{"delta": {"content": message.get("content"), "tool_calls": calls},
                          "finish_reason": choice.get("finish_reason") or ("tool_calls" if calls else "stop")}],
             "usage": completion.get("usage")}
    return chunk_deltas(chunk, names)


async def listed(deltas: list[ChatDelta]) -> AsyncIterator[ChatDelta]:
    for delta in deltas:
        yield delta


class StreamEnd:
    """How an event stream ended, for ``OpenAIChatModel``: ``done`` once ``[DONE]`` came."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = False


def missing_finish(label: str, called: bool) -> ChatDelta:
    """The finish of a stream that said ``[DONE]`` and no ``finish_reason``."""
    log.warning("%s: the stream ended with [DONE] and no finish_reason; taken as %s", label,
                "tool_calls" if called else "stop")
    return ChatDelta(finish_reason="tool_calls" if called else "stop")


async def stream_deltas(
    parts: AsyncIterator[bytes], request: httpx2.Request, label: str, names: ToolNames = SAME_NAMES,
    at_eof: Callable[[], bool] = lambda: False, head: bytes = b"", end: StreamEnd | None = None,
) -> AsyncIterator[ChatDelta]:
    decoder = SseDecoder()
    indexes = CallIndexes()
    done = False
    if head:  # what ``sniff`` read to see an event stream
        for event in decoder.feed(head):
            if event.data.startswith("[DONE]"):
                if end is not None:
                    end.done = True
                return
            for delta in event_deltas(event, request, label, names, indexes):
                yield delta
    async for part in parts:
        for event in decoder.feed(part):
            if done:
                continue
            if event.data.startswith("[DONE]"):
                done = True
                if end is not None:
                    end.done = True
                break
            for delta in event_deltas(event, request, label, names, indexes):
                yield delta
        if done:
            if at_eof():  # the body's end came with [DONE] (the usual case): the iterator ends at once, no timer
                async for _ in parts:
                    pass
                return
            # Read the (normally empty) rest of the body so the connection goes back to the pool.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DRAIN_AFTER_DONE_S):
                    async for _ in parts:
                        pass
            return


def event_deltas(event: SseEvent, request: httpx2.Request, label: str, names: ToolNames,
                 indexes: CallIndexes | None = None) -> list[ChatDelta]:
    try:
        chunk = orjson.loads(event.data)
    except orjson.JSONDecodeError as exc:
        raise ProviderUnavailable(f"{label}: the stream sent something that is not JSON") from exc
    if not isinstance(chunk, dict):
        return []
    if event.event == "error" and not chunk.get("error"):  # ``event: error`` with the error as the data itself
        chunk = {"error": chunk}
    if chunk.get("error"):  # what the SDK's own stream raises for an in-stream error event
        error = chunk["error"]
        message = error.get("message") if isinstance(error, dict) else None
        raise openai.APIError(message or "An error occurred during streaming", request, body=error)
    return chunk_deltas(chunk, names, indexes)
