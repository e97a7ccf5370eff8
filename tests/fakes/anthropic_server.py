"""A scripted Anthropic Messages API server: real HTTP and SSE (``event:`` + ``data:`` lines).

Same steps and script as ``FakeOpenAIServer`` (see ``tests/fakes/openai_server.py``):

- consecutive ``Text`` steps stream as ``text_delta``s of one text block; each ``ToolCall`` is a
  ``tool_use`` block whose input arrives as ``input_json_delta`` fragments;
- ``Finish(reason)`` takes OpenAI names (stop, length, tool_calls) or Anthropic ones (end_turn, ...);
- ``HttpError`` first → an HTTP error with Anthropic's error JSON; later → an ``event: error`` in the
  stream; ``Cut`` → the connection drops before ``message_stop``; ``Raw`` first → that answer as given.

Requests are checked as the Messages API checks them where a mapping of ours could go wrong: tool names (of
``tools``, a named ``tool_choice`` and the history's ``tool_use`` blocks) must match ``^[a-zA-Z0-9_-]{1,128}$``,
tool names must be unique and a named tool choice must name a tool, a text block may not be empty and a message's
text blocks may not all be whitespace ("messages: text content blocks must contain non-whitespace text"); else a
400 ``invalid_request_error`` with the API's wording, and the request is recorded all the same.

``base_url`` is the root ("http://127.0.0.1:<port>"), as ``anthropic.AsyncAnthropic`` wants it.
``GET /v1/models`` lists ``models`` (default ``["claude-fake"]``).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from aiohttp import web

from tests.fakes.openai_server import (
    Cut,
    Finish,
    HttpError,
    Pause,
    Raw,
    ScriptedServer,
    Text,
    ToolCall,
    Turn,
    default_finish,
    fragments,
    retry_after_headers,
)

__all__ = ["Cut", "FakeAnthropicServer", "Finish", "HttpError", "Pause", "Text", "ToolCall", "Turn"]

_STOP_REASON = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}
_ERROR_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,128}")
_TOOL_NAME_RULE = "String should match pattern '^[a-zA-Z0-9_-]{1,128}$'"


def request_problem(body: dict[str, Any]) -> str | None:
    """What the real API would refuse in ``body`` (the tool-name rules, and text blocks that are empty or, all of a
    message's, only whitespace), else None."""
    tools = body.get("tools") or []
    for i, tool in enumerate(tools):
        if not _TOOL_NAME.fullmatch(str(tool.get("name", ""))):
            return f"tools.{i}.custom.name: {_TOOL_NAME_RULE}"
    names = [tool.get("name") for tool in tools]
    if len(set(names)) != len(names):
        return "tools: Tool names must be unique."
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool":
        if not _TOOL_NAME.fullmatch(str(choice.get("name", ""))):
            return f"tool_choice.tool.name: {_TOOL_NAME_RULE}"
        if choice["name"] not in names:
            return f"Tool '{choice['name']}' not found in provided tools"
    for i, message in enumerate(body.get("messages") or []):
        content = message.get("content")
        for j, block in enumerate(content if isinstance(content, list) else []):
            if block.get("type") == "tool_use" and not _TOOL_NAME.fullmatch(str(block.get("name", ""))):
                return f"messages.{i}.content.{j}.tool_use.name: {_TOOL_NAME_RULE}"
        texts = [b.get("text", "") for b in content if b.get("type") == "text"] if isinstance(content, list) else []
        if "" in texts:
            return "messages: text content blocks must be non-empty"
        if texts and not any(t.strip() for t in texts):  # ' ' alone is refused, ' ' beside 'real' is not
            return "messages: text content blocks must contain non-whitespace text"
    return None


def _error_body(step: HttpError) -> dict[str, Any]:
    kind = _ERROR_TYPE.get(step.status, "api_error" if step.status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": step.message}}


class FakeAnthropicServer(ScriptedServer):
    def __init__(self, *, models: list[str] | None = None) -> None:
        super().__init__()
        self.models = models if models is not None else ["claude-fake"]

    @property
    def base_url(self) -> str:
        return self.root_url

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_get("/v1/models", self._models)

    async def _models(self, request: web.Request) -> web.Response:
        data = [
            {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z",
             "lifecycle": "active", "max_input_tokens": 200000, "max_tokens": 64000}
            for m in self.models
        ]
        return web.json_response({
            "data": data, "has_more": False,
            "first_id": self.models[0] if self.models else None,
            "last_id": self.models[-1] if self.models else None,
        })

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.paths.append(request.path_qs)
        problem = request_problem(body)
        if problem is not None:
            return web.json_response(_error_body(HttpError(400, problem)), status=400)
        turn = self._next_turn()
        if turn and isinstance(turn[0], HttpError):
            return web.json_response(_error_body(turn[0]), status=turn[0].status, headers=retry_after_headers(turn[0]))
        if turn and isinstance(turn[0], Raw):
            return web.Response(status=turn[0].status, body=turn[0].body.encode(),
                                headers={"Content-Type": turn[0].content_type})
        if body.get("stream"):
            return await self._stream(request, body, turn)
        return await self._complete(body, turn)

    def _stop_reason(self, turn: Turn) -> str:
        reason = default_finish(turn)
        return _STOP_REASON.get(reason, reason)

    async def _complete(self, body: dict[str, Any], turn: Turn) -> web.Response:
        content: list[dict[str, Any]] = []
        for step in turn:
            if isinstance(step, Text):
                await asyncio.sleep(step.delay_s)
                if content and content[-1]["type"] == "text":
                    content[-1]["text"] += step.text
                else:
                    content.append({"type": "text", "text": step.text})
            elif isinstance(step, ToolCall):
                content.append({"type": "tool_use", "id": step.id or self._next_call_id("toolu_"),
                                "name": step.name, "input": json.loads(step.arguments or "{}")})
            elif isinstance(step, Pause):
                await asyncio.sleep(step.seconds)
            elif isinstance(step, HttpError):
                return web.json_response(_error_body(step), status=step.status)
        usage = self._usage_for(body, turn)
        return web.json_response({
            "id": "msg_fake", "type": "message", "role": "assistant", "model": body.get("model"),
            "content": content, "stop_reason": self._stop_reason(turn), "stop_sequence": None,
            "usage": {"input_tokens": usage.prompt_tokens - usage.cached_tokens,
                      "output_tokens": usage.completion_tokens,
                      "cache_read_input_tokens": usage.cached_tokens, "cache_creation_input_tokens": 0},
        })

    async def _stream(self, request: web.Request, body: dict[str, Any], turn: Turn) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)

        async def send(event: str, data: dict[str, Any]) -> None:
            await resp.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())

        usage = self._usage_for(body, turn)
        await send("message_start", {"type": "message_start", "message": {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": body.get("model"),
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": usage.prompt_tokens - usage.cached_tokens, "output_tokens": 1,
                      "cache_read_input_tokens": usage.cached_tokens, "cache_creation_input_tokens": 0},
        }})
        await send("ping", {"type": "ping"})
        index = -1
        open_text = False  # a text block is open (consecutive Text steps extend it)

        async def close_block() -> None:
            nonlocal open_text
            if open_text:
                await send("content_block_stop", {"type": "content_block_stop", "index": index})
            open_text = False

        for step in turn:
            match step:
                case Text():
                    await asyncio.sleep(step.delay_s)
                    if not open_text:
                        await close_block()
                        index += 1
                        open_text = True
                        await send("content_block_start", {"type": "content_block_start", "index": index,
                                                           "content_block": {"type": "text", "text": ""}})
                    await send("content_block_delta", {"type": "content_block_delta", "index": index,
                                                       "delta": {"type": "text_delta", "text": step.text}})
                case ToolCall():
                    await close_block()
                    index += 1
                    await send("content_block_start", {"type": "content_block_start", "index": index,
                                                       "content_block": {
                                                           "type": "tool_use",
                                                           "id": step.id or self._next_call_id("toolu_"),
                                                           "name": step.name, "input": {}}})
                    parts = [""] + (fragments(step.arguments, step.fragment_chars) if step.arguments else [])
                    for i, frag in enumerate(parts):
                        if i > 1 and step.delay_s:
                            await asyncio.sleep(step.delay_s)
                        await send("content_block_delta", {"type": "content_block_delta", "index": index,
                                                           "delta": {"type": "input_json_delta",
                                                                     "partial_json": frag}})
                    await send("content_block_stop", {"type": "content_block_stop", "index": index})
                case Pause():
                    await asyncio.sleep(step.seconds)
                case Cut():
                    await self._cut(request)
                    return resp
                case HttpError():
                    await send("error", _error_body(step))
                    await resp.write_eof()
                    return resp
                case Finish():
                    pass
        await close_block()
        await send("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": self._stop_reason(turn), "stop_sequence": None},
                                     "usage": {"output_tokens": usage.completion_tokens}})
        await send("message_stop", {"type": "message_stop"})
        await resp.write_eof()
        return resp
