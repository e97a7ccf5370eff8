"""``GET /v1/voice``: the native voice WebSocket (docs/protocol.md). Thin: auth is the app middleware's,
the conversation is ``session.VoiceSession``'s.

The agent may be chosen on connect with ``?agent=<id or unique name>``. Browsers authenticate with
``?token=`` or a ``token.<value>`` subprotocol and must also offer ``voice-letta.v1``, which the server
selects (a browser refuses a handshake that selects none of the offered subprotocols).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from voice_letta import config as C
from voice_letta import logctx
from voice_letta.errors import ProtocolViolation, VoiceLettaError
from voice_letta.server.auth import principal_of
from voice_letta.server.identities import identity_agent
from voice_letta.server.keys import AGENT, AGENTS, BUS, CONFIG, LIVE_SOCKETS, METRICS, SPEECH
from voice_letta.session.session import VoiceSession
from voice_letta.wire.native import MAX_AUDIO_FRAME_BYTES, PROTOCOL

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
HEARTBEAT_S = C.WS_HEARTBEAT_S


class _WsTransport:
    __slots__ = ("ws",)

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    async def receive(self) -> str | bytes | None:
        msg = await self.ws.receive()
        if msg.type == WSMsgType.BINARY:
            return bytes(msg.data)
        if msg.type == WSMsgType.TEXT:
            return str(msg.data)
        return None  # CLOSE, CLOSING, CLOSED, ERROR (e.g. over max_msg_size: aiohttp closes with 1009)

    async def send_text(self, text: str) -> None:
        await self.ws.send_str(text)

    async def send_bytes(self, data: bytes) -> None:
        await self.ws.send_bytes(data)


def agent_resolver(request: web.Request) -> Callable[[str], Awaitable[str]]:
    """Agent id from an id or unique name; a scoped token's principal may only pick its own agent."""
    agents = request.app[AGENTS]
    principal = principal_of(request)

    async def resolve(name: str) -> str:
        agent = await agents.find(name)
        if agent is None:
            raise ProtocolViolation(f"no agent {name[:80]!r}: give an agent id or a unique agent name",
                                    code="agent_not_found")
        if not principal.may_use_agent(agent.id):
            raise ProtocolViolation("this token is for another agent", code="agent_not_allowed")
        return agent.id

    return resolve


@routes.get("/v1/voice")
async def voice(request: web.Request) -> web.WebSocketResponse:
    app = request.app
    max_msg = max(app[CONFIG].max_ws_message_bytes, 2 * MAX_AUDIO_FRAME_BYTES)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=max_msg, protocols=(PROTOCOL,))
    await ws.prepare(request)
    app[LIVE_SOCKETS].add(ws)
    resolve = agent_resolver(request)
    agent_id: str | None = None
    errors: list[VoiceLettaError] = []
    # A scoped token names its agent, so ?agent= may be left out.
    identity = request.query.get("identity")
    if identity is not None:  # the person's own agent, made from the agent named as a template
        try:
            agent_id = await identity_agent(request, request.query.get("agent") or "", identity)
        except VoiceLettaError as exc:
            errors.append(exc)
    elif query_agent := request.query.get("agent") or principal_of(request).agent_id:
        try:
            agent_id = await resolve(query_agent)
        except VoiceLettaError as exc:
            errors.append(exc)
    session = VoiceSession(_WsTransport(ws), app[AGENT], app[SPEECH], resolve_agent=resolve, bus=app[BUS],
                           metrics=app[METRICS], agent_id=agent_id)
    try:
        with logctx.bound(session_id=session.id, agent_id=agent_id):  # every log line of the session names it
            await session.run(initial_errors=tuple(errors))
    finally:
        app[LIVE_SOCKETS].discard(ws)
        if not ws.closed:
            await ws.close()
    return ws
