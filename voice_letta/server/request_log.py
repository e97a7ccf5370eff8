"""Every HTTP request's log lines carry its request id (and the agent id of ``/v1/agents/{agent_id}/…`` routes).

The id is the client's ``X-Request-Id`` when it sends a sane one (1–128 printable ASCII characters), else a new
one; the response carries it back in ``X-Request-Id`` so a client can quote it.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from voice_letta import ids, logctx

REQUEST_ID_HEADER = "X-Request-Id"
MAX_REQUEST_ID_CHARS = 128


def request_id_of(request: web.Request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    if 0 < len(given) <= MAX_REQUEST_ID_CHARS and given.isascii() and given.isprintable():
        return given
    return ids.random_hex(8)


@web.middleware
async def request_context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request_id_of(request)
    token = logctx.bind(request_id=request_id, agent_id=request.match_info.get("agent_id"))
    try:  # not ``logctx.bound``: a generator-based context manager on every request
        response = await handler(request)
    finally:
        logctx.unbind(token)
    if not response.prepared:  # a stream sets it itself before its headers go out
        response.headers[REQUEST_ID_HEADER] = request_id
    return response
