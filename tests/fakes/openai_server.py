"""A scripted OpenAI Chat Completions server: real HTTP and SSE on 127.0.0.1:0 (aiohttp).

    server = FakeOpenAIServer(); await server.start()
    server.script([Text("Hel"), Text("lo.")], [ToolCall("f", '{"a": 1}'), ToolCall("g", "{}")])
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="x")

Each request to ``/v1/chat/completions`` consumes the next scripted turn (``default_turn`` once the
script is empty) and records its JSON body in ``requests``. A turn is a list of steps:

- ``Text``: one content delta; ``ToolCall``: one tool call, its arguments sent in fragments of
  ``fragment_chars`` (several ``ToolCall``s in a turn are parallel calls with index 0, 1, ...);
- ``Pause``: sleep; ``Cut``: drop the connection (no ``[DONE]``); ``Finish``: explicit finish_reason;
- ``HttpError``: as the first step, an HTTP error with an OpenAI-style JSON body; later in a turn,
  an ``{"error": ...}`` chunk in the stream followed by the end of the stream (a 5xx mid-stream);
- ``Raw``: as the first step, the whole answer as given (status, Content-Type, body): what a captive portal, a
  proxy's error page or a gateway's 200 JSON error body sends instead of the API's answer.

``GET /v1/models`` lists ``models`` (default ``["fake-model"]``). Azure paths
(``/openai/deployments/<name>/chat/completions``) are served too; ``paths`` records each request's
path and query. Non-streaming requests get one completion object built from the turn. A usage chunk
(``choices: []``) is sent when ``stream_options.include_usage`` is true; ``usage`` overrides its numbers.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass
class Text:
    text: str
    delay_s: float = 0.0


@dataclass
class ToolCall:
    name: str
    arguments: str
    id: str | None = None
    fragment_chars: int = 6
    delay_s: float = 0.0


@dataclass
class Pause:
    seconds: float


@dataclass
class HttpError:
    status: int
    message: str = "fake error"
    retry_after_s: float | None = None  # sent as a Retry-After header


@dataclass
class Raw:
    body: str
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    location: str | None = None  # a Location header (a redirect)


@dataclass
class Cut:
    pass


@dataclass
class Finish:
    reason: str | None = None


Step = Text | ToolCall | Pause | HttpError | Raw | Cut | Finish
Turn = list[Step]


def fragments(text: str, size: int) -> list[str]:
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def count_tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: about four characters a token."""
    return (len(text) + 3) // 4


def default_finish(turn: Turn) -> str:
    for step in turn:
        if isinstance(step, Finish) and step.reason is not None:
            return step.reason
    return "tool_calls" if any(isinstance(s, ToolCall) for s in turn) else "stop"


@dataclass
class _Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0


class ScriptedServer:
    """What both fake servers share: the aiohttp runner, the script and the recorded requests."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []  # each chat request's headers, as received
        self.paths: list[str] = []  # path and query of each recorded request
        self.peers: list[object] = []  # the client's address of each recorded request (shows connection reuse)
        self.default_turn: Turn = [Text("OK.")]
        # Per model (OpenAI-style servers only): turns for requests naming that model, ahead of the shared script,
        # and a default; for tests where several processes' requests interleave (voice turns, sleeptime jobs).
        self.model_scripts: dict[str, list[Turn]] = {}
        self.model_defaults: dict[str, Turn] = {}
        self.model_handlers: dict[str, Callable[[dict[str, Any]], Turn]] = {}  # the turn, from the request body
        self.usage: dict[str, int] | None = None  # e.g. {"prompt_tokens": 10, "cached_tokens": 4}
        self._script: list[Turn] = []
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._call_seq = 0

    # --- lifecycle ---------------------------------------------------------------------------------------
    def _routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        app = web.Application()
        self._routes(app)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ScriptedServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def port(self) -> int:
        return self._port

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    # --- script ------------------------------------------------------------------------------------------
    def script(self, *turns: Turn) -> None:
        self._script.extend(list(t) for t in turns)

    @property
    def pending_turns(self) -> int:
        return len(self._script)

    def _next_turn(self, model: str | None = None, body: dict[str, Any] | None = None) -> Turn:
        if model is not None and self.model_scripts.get(model):
            return self.model_scripts[model].pop(0)
        if model is not None and model in self.model_handlers:
            return self.model_handlers[model](body or {})
        if model is not None and model in self.model_defaults:
            return list(self.model_defaults[model])
        return self._script.pop(0) if self._script else list(self.default_turn)

    def _next_call_id(self, prefix: str) -> str:
        self._call_seq += 1
        return f"{prefix}{self._call_seq:04d}"

    def _usage_for(self, body: dict[str, Any], turn: Turn) -> _Usage:
        prompt = count_tokens(json.dumps(body.get("messages", []))) + count_tokens(
            json.dumps(body.get("system", ""))
        )
        completion = sum(
            count_tokens(s.text) if isinstance(s, Text) else count_tokens(s.arguments) + 1
            for s in turn
            if isinstance(s, Text | ToolCall)
        )
        u = self.usage or {}
        return _Usage(
            prompt_tokens=u.get("prompt_tokens", prompt),
            completion_tokens=u.get("completion_tokens", max(1, completion)),
            cached_tokens=u.get("cached_tokens", 0),
        )

    @staticmethod
    async def _cut(request: web.Request) -> None:
        """Drop the TCP connection in the middle of a chunked body."""
        transport = request.transport
        if transport is not None:
            transport.abort()
        await asyncio.sleep(0)


class FakeOpenAIServer(ScriptedServer):
    def __init__(self, *, models: list[str] | None = None) -> None:
        super().__init__()
        self.models = models if models is not None else ["fake-model"]
        self.deployments: list[tuple[str, str]] | None = None  # Azure (deployment, model) pairs
        self.model_lists: list[str] = []  # path and query of each model-list request

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        # Azure OpenAI routes (deployment in the path, ``api-version`` in the query).
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", self._chat)
        app.router.add_get("/openai/models", self._models)
        app.router.add_get("/openai/deployments", self._deployments)

    async def _deployments(self, request: web.Request) -> web.Response:
        """Azure's data-plane deployments listing (api-version 2022-12-01); 404 when ``deployments`` is None."""
        self.paths.append(request.path_qs)
        if self.deployments is None or request.headers.get("api-key") is None:
            return web.json_response({"error": {"code": "404", "message": "Resource not found"}}, status=404)
        data = [{"id": d, "model": m, "status": "succeeded", "object": "deployment", "owner": "organization-owner",
                 "scale_settings": {"scale_type": "standard"}, "created_at": 0, "updated_at": 0}
                for d, m in self.deployments]
        return web.json_response({"data": data, "object": "list"})

    async def _models(self, request: web.Request) -> web.Response:
        self.model_lists.append(request.path_qs)
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
        return web.json_response({"object": "list", "data": data})

    @staticmethod
    def _error_response(step: HttpError) -> web.Response:
        kind = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
                429: "rate_limit_exceeded"}.get(step.status, "server_error")
        body = {"error": {"message": step.message, "type": kind, "param": None, "code": str(step.status)}}
        return web.json_response(body, status=step.status, headers=retry_after_headers(step))

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        self.paths.append(request.path_qs)
        self.peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        refused = _tool_name_error(body)
        if refused is not None:
            return web.json_response(refused, status=400)
        turn = self._next_turn(body.get("model"), body)
        if turn and isinstance(turn[0], HttpError):
            return self._error_response(turn[0])
        if turn and isinstance(turn[0], Raw):
            location = {"Location": turn[0].location} if turn[0].location else {}
            return web.Response(status=turn[0].status, body=turn[0].body.encode(),
                                headers={"Content-Type": turn[0].content_type, **location})
        if body.get("stream"):
            return await self._stream(request, body, turn)
        return await self._complete(request, body, turn)

    async def _complete(self, request: web.Request, body: dict[str, Any], turn: Turn) -> web.StreamResponse:
        text, calls = "", []
        for step in turn:
            match step:
                case Text():
                    await asyncio.sleep(step.delay_s)
                    text += step.text
                case ToolCall():
                    calls.append({
                        "id": step.id or self._next_call_id("call_"),
                        "type": "function",
                        "function": {"name": step.name, "arguments": step.arguments},
                    })
                case Pause():
                    await asyncio.sleep(step.seconds)
                case Cut():
                    await self._cut(request)
                    return web.Response(status=500)
                case HttpError():
                    return self._error_response(step)
        usage = self._usage_for(body, turn)
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if calls:
            message["tool_calls"] = calls
        return web.json_response({
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [{"index": 0, "message": message, "finish_reason": default_finish(turn),
                         "logprobs": None}],
            "usage": _usage_json(usage),
        })

    async def _stream(self, request: web.Request, body: dict[str, Any], turn: Turn) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        created = int(time.time())
        model = body.get("model", "fake-model")

        async def send(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> None:
            chunk: dict[str, Any] = {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                                     "created": created, "model": model, "choices": choices}
            if usage is not None:
                chunk["usage"] = usage
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())

        def choice(delta: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
            return [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]

        await send(choice({"role": "assistant", "content": ""}))
        tool_index = 0
        for step in turn:
            match step:
                case Text():
                    await asyncio.sleep(step.delay_s)
                    await send(choice({"content": step.text}))
                case ToolCall():
                    head = {"index": tool_index, "id": step.id or self._next_call_id("call_"), "type": "function",
                            "function": {"name": step.name, "arguments": ""}}
                    await send(choice({"tool_calls": [head]}))
                    for i, frag in enumerate(fragments(step.arguments, step.fragment_chars)):
                        if i and step.delay_s:
                            await asyncio.sleep(step.delay_s)
                        await send(choice({"tool_calls": [{"index": tool_index, "function": {"arguments": frag}}]}))
                    tool_index += 1
                case Pause():
                    await asyncio.sleep(step.seconds)
                case Cut():
                    await self._cut(request)
                    return resp
                case HttpError():
                    err = {"error": {"message": step.message, "type": "server_error", "code": str(step.status)}}
                    await resp.write(f"data: {json.dumps(err)}\n\n".encode())
                    await resp.write_eof()
                    return resp
                case Finish():
                    pass
        await send(choice({}, default_finish(turn)))
        if (body.get("stream_options") or {}).get("include_usage"):
            await send([], _usage_json(self._usage_for(body, turn)))
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp


_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


def _tool_name_error(body: dict[str, Any]) -> dict[str, Any] | None:
    """OpenAI's 400 for a function name many of its models refuse (a dot, over 64 characters), in its wording."""
    for i, t in enumerate(body.get("tools") or ()):
        name = (t.get("function") or {}).get("name")
        if not isinstance(name, str) or not _TOOL_NAME.fullmatch(name):
            return {"error": {
                "message": f"Invalid 'tools[{i}].function.name': string does not match pattern. Expected a string "
                           "that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                "type": "invalid_request_error", "param": f"tools[{i}].function.name", "code": "invalid_value"}}
    return None


def retry_after_headers(step: HttpError) -> dict[str, str]:
    return {"Retry-After": f"{step.retry_after_s:g}"} if step.retry_after_s is not None else {}


def _usage_json(u: _Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.prompt_tokens + u.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cached_tokens},
    }


__all__ = [
    "Cut",
    "FakeOpenAIServer",
    "Finish",
    "HttpError",
    "Pause",
    "Raw",
    "ScriptedServer",
    "Step",
    "Text",
    "ToolCall",
    "Turn",
    "count_tokens",
    "default_finish",
    "fragments",
    "retry_after_headers",
]
