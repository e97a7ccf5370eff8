"""The Twilio phone bridge: ``POST /twilio/voice`` (TwiML webhook) and ``GET /twilio/stream`` (Media Streams).

A call reuses the native voice session unchanged. ``TwilioBridge`` is a ``session.Transport`` that speaks
Twilio Media Streams on the socket and the native protocol (docs/protocol.md) towards ``VoiceSession``:

    Twilio → session                                  session → Twilio
    start    → session.update (agent from            PCM16 8 kHz  → media, exactly 20 ms of µ-law each,
               customParameters, 8 kHz in/out,                       and a mark every 100 ms of audio
               server VAD)                           response.audio.start → new mark ledger (response id)
    media    → PCM16 binary frame (8 kHz)            response.audio.done  → last frame (padded) + mark
    mark     → playback.progress (ms heard)          playback.clear       → clear, then a synthetic
    stop/close → end of the session                                         playback.stopped (ms heard)
    dtmf     → logged                                everything else      → dropped (errors logged)

The session paces audio in real time (``Outbound``, 20 ms frames, ``lead_ms`` ahead), so the bridge only
re-frames and encodes. Barge-in is the session's: it sends ``playback.clear``, the bridge sends ``clear``
and reports the last position confirmed by a mark echo, and the session truncates the stored reply to it.
Hang-up (``stop`` or the socket closing) ends the session, which hands the transcript to memory.

Security: Twilio does not send our API key (``auth.py`` lets ``/twilio/*`` through). With
``TWILIO_AUTH_TOKEN`` set, the webhook must carry a valid ``X-Twilio-Signature`` (else 403). A signed
WebSocket upgrade is checked too; an unsigned one must present, in ``customParameters``, the per-call token
the webhook put into the TwiML (HMAC of the CallSid), else the call is dropped at ``start``. With an API key
but no ``TWILIO_AUTH_TOKEN`` the bridge is off (403 ``twilio_disabled``): an API key promises that nothing is
open, and only Twilio's signature can authenticate Twilio. With neither, the bridge is open (local testing).

Environment: ``TWILIO_AUTH_TOKEN``, ``VOICE_LETTA_PUBLIC_URL`` (e.g. ``https://abcd.ngrok.app``; else taken
from ``X-Forwarded-Proto``/``Host``), ``VOICE_LETTA_TWILIO_AGENT`` (agent when the webhook URL has no ``?agent=``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass

from aiohttp import WSMsgType, web
from aiohttp.http_exceptions import HttpProcessingError

from voice_letta import config as C
from voice_letta import logctx
from voice_letta.agent.service import AgentService
from voice_letta.errors import ProtocolViolation, VoiceLettaError
from voice_letta.server.identities import agent_for_identity, caller_identity
from voice_letta.server.keys import AGENT, AGENTS, BUS, CONFIG, LIVE_SOCKETS, METRICS, SPEECH
from voice_letta.server.twilio_call import CallControl
from voice_letta.server.twilio_rest import DEFAULT_API_BASE, TwilioRest
from voice_letta.server.twilio_signature import (
    SIGNATURE_HEADER,
    external_base,
    is_valid,
    signed_url_candidates,
    websocket_scheme,
)
from voice_letta.server.ws_native import agent_resolver
from voice_letta.session.session import VoiceSession
from voice_letta.wire import native as W
from voice_letta.wire import twilio as T
from voice_letta.wire.openai_chat import error_body

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

AUTH_TOKEN_ENV = "TWILIO_AUTH_TOKEN"
PUBLIC_URL_ENV = C.PUBLIC_URL_ENV
DEFAULT_AGENT_ENV = "VOICE_LETTA_TWILIO_AGENT"
TEMPLATE_ENV = "VOICE_LETTA_TWILIO_TEMPLATE"
API_BASE_ENV = "VOICE_LETTA_TWILIO_API_BASE"
STREAM_PATH = "/twilio/stream"
STREAM_AUTH_PARAM = "vl_auth"
HEARTBEAT_S = C.WS_HEARTBEAT_S
MAX_MSG_BYTES = 256 * 1024
INBOUND_QUEUE_MAX = 512
OUTPUT_LEAD_MS = 60.0  # audio kept ahead of real time at Twilio: jitter margin vs. what a clear throws away
END_CALL_ERRORS = frozenset({"agent_not_found", "no_agent", "session_not_configured"})


@dataclass(frozen=True, slots=True)
class TwilioSettings:
    auth_token: str | None = None
    public_url: str | None = None
    default_agent: str | None = None
    template: str | None = None  # one agent per caller, made from this agent (see server/identities.py)
    api_base: str = DEFAULT_API_BASE  # Twilio's REST API (tests: a local fake)
    mark_every_ms: int = T.DEFAULT_MARK_EVERY_MS
    output_lead_ms: float = OUTPUT_LEAD_MS

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> TwilioSettings:
        env = dict(os.environ) if env is None else env

        def value(name: str) -> str | None:  # "\r" of a Windows .env file, quotes kept by docker --env-file
            return C.env_value(env.get(name)) or None

        return cls(auth_token=value(AUTH_TOKEN_ENV), public_url=C.public_url(env.get(PUBLIC_URL_ENV)),
                   default_agent=value(DEFAULT_AGENT_ENV), template=value(TEMPLATE_ENV),
                   api_base=value(API_BASE_ENV) or DEFAULT_API_BASE)


TWILIO = web.AppKey("twilio", TwilioSettings)


def setup(app: web.Application, settings: TwilioSettings | None = None) -> None:
    """Register the Twilio routes; settings from the environment unless given (tests may replace ``app[TWILIO]``)."""
    app[TWILIO] = settings or TwilioSettings.from_env()
    app.router.add_routes(routes)
    if app[TWILIO].auth_token is not None:
        log.info("Twilio bridge on: requests must carry Twilio's signature")
    elif app[CONFIG].api_key is not None:
        log.warning("Twilio bridge off: an API key is set but %s is not, so Twilio cannot be authenticated",
                    AUTH_TOKEN_ENV)
    else:
        log.info("Twilio bridge open without signature checks (no API key, no %s): for local testing",
                 AUTH_TOKEN_ENV)


def _bridge_disabled(request: web.Request) -> web.Response | None:
    if request.app[TWILIO].auth_token is None and request.app[CONFIG].api_key is not None:
        log.warning("twilio: refused %s: the bridge is off (API key set, no %s)", request.path, AUTH_TOKEN_ENV)
        return web.json_response(error_body(
            f"the Twilio bridge is off: this server has an API key, so it needs {AUTH_TOKEN_ENV} to check "
            "Twilio's signature", type_="permission_error", code="twilio_disabled"), status=403)
    return None


def stream_token(auth_token: str, call_sid: str) -> str:
    """The per-call token the webhook hands to the stream (for unsigned WebSocket upgrades)."""
    return hmac.new(auth_token.encode(), f"stream:{call_sid}".encode(), hashlib.sha256).hexdigest()[:32]


def _forbidden(why: str) -> web.Response:
    log.warning("twilio: rejected request: %s", why)
    # JSON like every other 4xx (docs/protocol.md); Twilio reads only the status
    return web.json_response(error_body("missing or invalid X-Twilio-Signature", type_="permission_error",
                                        code="invalid_signature"), status=403)


# --- the TwiML webhook ------------------------------------------------------------------------------------
@routes.post("/twilio/voice")
async def voice_webhook(request: web.Request) -> web.Response:
    if (refused := _bridge_disabled(request)) is not None:
        return refused
    settings = request.app[TWILIO]
    try:
        form = await request.post()
    except (ValueError, HttpProcessingError) as exc:  # not UTF-8, a broken multipart body: Twilio sends neither
        log.warning("twilio: malformed webhook body: %s", exc)
        return web.json_response(error_body("malformed form body", code="invalid_request"), status=400)
    params = [(k, str(v)) for k, v in form.items()]
    if settings.auth_token is not None:
        urls = signed_url_candidates(request, settings.public_url)
        if not is_valid(settings.auth_token, request.headers.get(SIGNATURE_HEADER), urls, params):
            return _forbidden("missing or invalid X-Twilio-Signature on the voice webhook")
    template = request.query.get("template") or (None if request.query.get("agent") else settings.template)
    wanted = request.query.get("agent") or settings.default_agent
    if not wanted and not template:
        log.warning("twilio: call %s: no agent (add ?agent= or ?template= to the webhook URL, or set %s)",
                    form.get("CallSid"), DEFAULT_AGENT_ENV)
        return _twiml(T.twiml_say("Sorry, this number is not connected to an assistant."))
    try:
        if template:
            # One agent per caller: the caller's number (the callee's on calls we place) names it.
            caller = str(form.get("To" if str(form.get("Direction", "")).startswith("outbound") else "From") or "")
            identity = caller_identity(caller, str(form.get("CallSid") or ""))
            agent_id = (await agent_for_identity(request.app[AGENTS], template, identity)).id
        else:
            agent_id = await agent_resolver(request)(wanted or "")
    except VoiceLettaError as exc:
        log.warning("twilio: call %s: %s", form.get("CallSid"), exc.message)
        return _twiml(T.twiml_say("Sorry, the assistant for this number could not be found."))
    base = external_base(request, settings.public_url)
    stream_url = websocket_scheme(base) + STREAM_PATH
    parameters = {"agent_id": agent_id}
    call_sid = str(form.get("CallSid") or "")
    if settings.auth_token is not None and call_sid:
        parameters[STREAM_AUTH_PARAM] = stream_token(settings.auth_token, call_sid)
    log.info("twilio: call %s → agent %s via %s", call_sid or "?", agent_id, stream_url)
    return _twiml(T.twiml_connect_stream(stream_url, parameters))


def _twiml(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/xml")


# --- the Media Stream -------------------------------------------------------------------------------------
class TwilioBridge:
    """``session.Transport`` over a Twilio Media Stream; see the module docstring for the mapping."""

    def __init__(self, ws: web.WebSocketResponse, codec: T.TwilioCodec, *, stream_auth: str | None = None,
                 agents: AgentService | None = None, settings: TwilioSettings | None = None) -> None:
        self.ws = ws
        self.codec = codec
        self.agents = agents
        self.settings = settings or TwilioSettings()
        self.call = CallControl(self._inject)
        self.call.hang_up_locally = self._end
        self.session: VoiceSession | None = None  # set by the handler: the start configures its call tools
        self._stream_auth = stream_auth  # auth token to check the start's per-call token with, if unsigned
        self._inbound: asyncio.Queue[str | bytes | None] = asyncio.Queue(INBOUND_QUEUE_MAX)
        self._ended = False
        self._started = False
        self.malformed = 0
        self.call_sid: str | None = None

    # -- Twilio → session -----------------------------------------------------------------------------
    async def pump(self) -> None:
        """Read the socket until it closes, translating each Twilio message (runs as the handler's task)."""
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_twilio(str(msg.data))
                elif msg.type == WSMsgType.BINARY:
                    self.malformed += 1
                    log.warning("twilio %s: unexpected binary frame (%d bytes) ignored", self.call_sid, len(msg.data))
                if self._ended:
                    break
        finally:
            self.call.flush_keys()  # keys pressed just before the caller hung up are still what they said
            self._end()

    async def _on_twilio(self, text: str) -> None:
        try:
            events = self.codec.receive_text(text)
        except ProtocolViolation as exc:
            self.malformed += 1
            log.warning("twilio %s: malformed message ignored (%s): %s", self.call_sid, exc.code, exc.message)
            return
        for ev in events:
            match ev:
                case T.AudioReceived():
                    if self._started:
                        await self._inbound.put(ev.pcm16)
                case T.PlaybackReached():
                    await self._inbound.put(json.dumps({"type": "playback.progress", "response_id": ev.response_id,
                                                        "played_ms": round(ev.played_ms, 1)}))
                    self.call.on_heard(ev.response_id, ev.played_ms)
                case T.CallStarted():
                    await self._on_start(ev)
                case T.DtmfReceived():
                    log.info("twilio %s: DTMF %s", self.call_sid, ev.digit)
                    if self._started:
                        self.call.on_dtmf(ev.digit)
                case T.CallStopped():
                    log.info("twilio %s: stop (hang-up)", self.call_sid)
                    self.call.flush_keys()
                    self._end()
                case T.CallConnected():
                    log.debug("twilio: connected (protocol %s)", ev.protocol)

    async def _on_start(self, ev: T.CallStarted) -> None:
        if self._started:  # the call keeps its id: a second start names another call
            log.warning("twilio %s: second start (call %s) ignored", self.call_sid, ev.call_sid)
            return
        self.call_sid = ev.call_sid or ev.stream_sid
        if self._stream_auth is not None:
            given = ev.custom_parameters.get(STREAM_AUTH_PARAM, "")
            if not ev.call_sid or not hmac.compare_digest(given, stream_token(self._stream_auth, ev.call_sid)):
                log.warning("twilio %s: unsigned stream without a valid per-call token: dropping", self.call_sid)
                self._end()
                return
        agent = ev.custom_parameters.get("agent_id") or ev.custom_parameters.get("agent")
        if not agent:
            log.warning("twilio %s: no agent_id in customParameters: dropping the call", self.call_sid)
            self._end()
            return
        if ev.encoding != "audio/x-mulaw" or ev.sample_rate_hz != T.SAMPLE_RATE_HZ:
            log.warning("twilio %s: media format %s/%d, treating it as audio/x-mulaw 8000",
                        self.call_sid, ev.encoding, ev.sample_rate_hz)
        self._started = True
        log.info("twilio %s: stream %s started for agent %s", self.call_sid, ev.stream_sid, agent)
        await self._inbound.put(json.dumps({"type": "session.update", "session": {
            "agent": agent, "input_sample_rate_hz": T.SAMPLE_RATE_HZ, "output_sample_rate_hz": T.SAMPLE_RATE_HZ,
            "turn_mode": "server_vad"}}))
        try:
            state = await self.agents.find(agent) if self.agents is not None else None
        except VoiceLettaError:  # an ambiguous name: the session's own resolver reports it
            state = None
        if self.settings.auth_token and ev.account_sid:
            self.call.rest = TwilioRest(ev.account_sid, self.settings.auth_token, api_base=self.settings.api_base)
        self.call.start(ev.call_sid, state)
        if self.session is not None:
            self.session.settings.driver_tools = self.call.tools()
            self.session.settings.channel = " (a phone call)"

    def _inject(self, message: str) -> None:
        """A native message for the session (the call's greeting, keypad input)."""
        if not self._ended:
            try:
                self._inbound.put_nowait(message)
            except asyncio.QueueFull:
                log.warning("twilio %s: the session is behind; a call message was dropped", self.call_sid)

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            try:
                self._inbound.put_nowait(None)
            except asyncio.QueueFull:  # the reader is behind; receive() sees _ended
                pass

    async def receive(self) -> str | bytes | None:
        if self._ended and self._inbound.empty():
            return None
        return await self._inbound.get()

    # -- session → Twilio -----------------------------------------------------------------------------
    async def send_bytes(self, data: bytes) -> None:
        for out in self.codec.send_audio(data):
            await self.ws.send_str(out)

    async def send_text(self, text: str) -> None:
        msg = json.loads(text)
        kind = msg.get("type")
        if kind == "response.audio.start":
            start = W.AudioStart.model_validate(msg)
            if start.sample_rate_hz != T.SAMPLE_RATE_HZ:  # cannot happen after our session.update
                log.error("twilio %s: session audio at %d Hz, expected 8000", self.call_sid, start.sample_rate_hz)
            self.codec.begin_response(start.response_id)
        elif kind == "response.audio.done":
            for out in self.codec.end_response():
                await self.ws.send_str(out)
            self.call.on_audio_done(str(msg.get("response_id")), self.codec.response_sent_ms)
        elif kind == "response.created":
            self.call.on_response_created(str(msg.get("response_id")))
        elif kind == "playback.clear":
            clear = W.PlaybackClear.model_validate(msg)
            heard_ms = self.codec.heard_ms(clear.response_id)
            for out in self.codec.send_clear():
                await self.ws.send_str(out)
            # Echoes from now on are Twilio returning pending marks, not playback: the last confirmed position
            # is final. Report it at once so the session need not wait for a report that never comes.
            if not self._ended:
                try:
                    self._inbound.put_nowait(json.dumps({
                        "type": "playback.stopped", "response_id": clear.response_id,
                        "played_ms": round(heard_ms, 1), "reason": "cleared"}))
                except asyncio.QueueFull:
                    pass
        elif kind == "error":
            err = W.ErrorOut.model_validate(msg)
            log.warning("twilio %s: session error %s: %s", self.call_sid, err.code, err.message)
            if err.code in END_CALL_ERRORS:
                self._end()
        elif kind == "transcript.final":
            log.info("twilio %s: caller said %d chars", self.call_sid, len(msg.get("text", "")))
        elif kind == "response.done":
            log.info("twilio %s: response %s %s", self.call_sid, msg.get("response_id"), msg.get("status"))
            self.call.on_response_done(str(msg.get("response_id")), str(msg.get("status")))


@routes.get(STREAM_PATH)
async def media_stream(request: web.Request) -> web.StreamResponse:
    if (refused := _bridge_disabled(request)) is not None:
        return refused
    app = request.app
    settings = app[TWILIO]
    stream_auth: str | None = None
    if settings.auth_token is not None:
        signature = request.headers.get(SIGNATURE_HEADER)
        if signature is not None:
            urls = signed_url_candidates(request, settings.public_url, websocket=True)
            if not is_valid(settings.auth_token, signature, urls):
                return _forbidden("invalid X-Twilio-Signature on the media stream upgrade")
        else:
            stream_auth = settings.auth_token  # check the webhook's per-call token at 'start'
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MAX_MSG_BYTES)
    await ws.prepare(request)
    app[LIVE_SOCKETS].add(ws)
    bridge = TwilioBridge(ws, T.TwilioCodec(mark_every_ms=settings.mark_every_ms), stream_auth=stream_auth,
                          agents=app[AGENTS], settings=settings)
    session = VoiceSession(bridge, app[AGENT], app[SPEECH], resolve_agent=agent_resolver(request), bus=app[BUS],
                           metrics=app[METRICS], output_lead_ms=settings.output_lead_ms)
    bridge.session = session
    pump = asyncio.create_task(bridge.pump(), name=f"{session.id}-twilio-pump")
    try:
        with logctx.bound(session_id=session.id):  # every log line of the call names it
            await session.run()
    finally:
        app[LIVE_SOCKETS].discard(ws)
        if not ws.closed:
            await ws.close()
        pump.cancel()
        await asyncio.wait([pump])
        bridge.call.close()
        log.info("twilio %s: call ended (%d turns, %d malformed messages)", bridge.call_sid, session.turns,
                 bridge.malformed)
    return ws
