"""``GET /v1/realtime?model=<agent id or name>``: the OpenAI Realtime-compatible WebSocket (docs/protocol.md §Realtime).

Thin: auth is the app middleware's (access class VOICE: the API key as ``Authorization: Bearer``, or a
voice token for the agent as ``?token=``, a ``token.<t>`` subprotocol or OpenAI's browser subprotocol
``openai-insecure-api-key.<t>``); the conversation is ``session.VoiceSession``'s, spoken through
``session.realtime.RealtimeTransport``. ``model`` names the agent; with a scoped token it may be left out.
An unknown agent gets a Realtime ``error`` event (``model_not_found``) and the socket closes with 1008.
"""

from __future__ import annotations

import json
import logging

from aiohttp import WSCloseCode, WSMsgType, web

from voice_letta import config as C
from voice_letta import ids, logctx
from voice_letta.errors import VoiceLettaError
from voice_letta.providers.fallback import accepts_images
from voice_letta.server.auth import principal_of
from voice_letta.server.keys import AGENT, AGENTS, BUS, CONFIG, LIVE_SOCKETS, METRICS, MODELS, SPEECH
from voice_letta.server.ws_native import agent_resolver
from voice_letta.session.realtime import RealtimeTransport
from voice_letta.session.session import VoiceSession
from voice_letta.wire import realtime as R
from voice_letta.wire import realtime_beta as RB
from voice_letta.wire import realtime_events as RE

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
HEARTBEAT_S = C.WS_HEARTBEAT_S
SUBPROTOCOL = "realtime"  # what browsers offer (with the key or token as a second subprotocol)


class _Socket:
    """The session's view of the WebSocket: JSON text in and out, in GA shapes; a beta client's events are
    translated here, in both directions (``wire.realtime_beta``)."""

    __slots__ = ("beta", "ws")

    def __init__(self, ws: web.WebSocketResponse, *, beta: bool = False) -> None:
        self.ws = ws
        self.beta = beta

    async def receive_text(self) -> str | None:
        while True:
            msg = await self.ws.receive()
            if msg.type == WSMsgType.TEXT:
                return _beta_in(str(msg.data)) if self.beta else str(msg.data)
            if msg.type == WSMsgType.BINARY:
                await self.send_text(RE.encode(RE.error_event(R.RealtimeViolation(
                    "Realtime events are JSON text frames; audio goes base64 in input_audio_buffer.append.",
                    code="invalid_value"))))
                continue
            return None  # CLOSE, CLOSING, CLOSED, ERROR (e.g. over max_msg_size: aiohttp closes with 1009)

    async def send_text(self, text: str) -> None:
        if self.beta:
            beta_event = RB.server_to_beta(json.loads(text))
            if beta_event is None:
                return
            text = json.dumps(beta_event, ensure_ascii=False, separators=(",", ":"))
        await self.ws.send_str(text)


def _beta_in(text: str) -> str:
    """A beta client event as its GA text; text that is no JSON object goes on as it is, so the GA parser gives
    its usual typed error (invalid_json, frame_too_large)."""
    if len(text) > R.MAX_EVENT_BYTES:
        return text
    try:
        event = json.loads(text)
    except (ValueError, RecursionError):
        return text
    if not isinstance(event, dict):
        return text
    return json.dumps(RB.client_to_ga(event), ensure_ascii=False, separators=(",", ":"))


@routes.get("/v1/realtime")
async def realtime(request: web.Request) -> web.WebSocketResponse:
    app = request.app
    max_msg = max(app[CONFIG].max_ws_message_bytes, R.MAX_EVENT_BYTES + 1024)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=max_msg, protocols=(SUBPROTOCOL,))
    await ws.prepare(request)
    socket = _Socket(ws, beta=RB.wants_beta(request.headers, request.headers.get("Sec-WebSocket-Protocol", "")))
    wanted = request.query.get("model") or principal_of(request).agent_id
    try:
        if not wanted:
            raise VoiceLettaError("connect with ?model=<agent id or name>", code="model_not_found")
        agent_id = await agent_resolver(request)(wanted)
        agent = await app[AGENTS].find(agent_id)
    except VoiceLettaError as exc:
        code = "model_not_found" if exc.code in ("agent_not_found", "model_not_found") else exc.code
        await socket.send_text(RE.encode(RE.ErrorEvent(error=RE.ErrorDetail(code=code, message=exc.message,
                                                                         param="model"))))
        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=code.encode())
        return ws
    app[LIVE_SOCKETS].add(ws)
    session_id = ids.new_id("sess")
    images_used = False
    if agent is not None:  # the same check as chat completions: does the agent's model take images?
        model = app[MODELS].for_config(agent.llm)
        check = getattr(model, "accepts_images", None)
        images_used = bool(await check()) if check is not None else await accepts_images(agent.llm)
    transport = RealtimeTransport(socket, session_id=session_id, model=agent.name if agent else agent_id,
                                  aliases=(agent_id,), images_used=images_used,
                                  instructions_used=agent is None or agent.client_system_prompt == "append")
    session = VoiceSession(transport, app[AGENT], app[SPEECH], resolve_agent=agent_resolver(request), bus=app[BUS],
                           metrics=app[METRICS], agent_id=agent_id, session_id=session_id)
    try:
        with logctx.bound(session_id=session.id):  # every log line of the session names it
            await session.run()
    finally:
        app[LIVE_SOCKETS].discard(ws)
        if not ws.closed:
            await ws.close()
    return ws
