"""The reading half of a session: client frames in → the listener (audio) or commands (messages).

``Reader.run()`` is the session's reader task. Binary audio goes through the session's ``Listener`` inline (no
queue hop per 20 ms frame: docs/benchmarks.md, "Concurrent live sessions"); text frames are parsed
(``wire.native``) or arrive already typed from a protocol adapter (``session.realtime``), and become commands
for the session's manager (``session.commands``). Bad input is answered with a typed error and the session goes
on. The reader never awaits slow work (only ``session.update``, which may load Silero on reconfiguration).
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from voice_letta import config as C
from voice_letta.errors import ProtocolViolation, VoiceLettaError, in_the_future
from voice_letta.session import events as E
from voice_letta.session.commands import Cancel, Close, Command, StartTurn
from voice_letta.session.listener import Listener
from voice_letta.session.metrics import FRAME_DELAY_SECONDS, FRAME_DELAYS, MetricsSink, TurnClock
from voice_letta.session.responder import Response
from voice_letta.session.settings import Settings
from voice_letta.session.transport import EventTransport
from voice_letta.wire import native as W


class ReaderHost(Protocol):
    """What the reader needs from its session."""

    transport: EventTransport
    settings: Settings
    listener: Listener
    metrics: MetricsSink

    @property
    def response(self) -> Response | None: ...

    def emit(self, event: E.SessionEvent) -> None: ...

    def error(self, exc: VoiceLettaError, *, event_id: str | None = None) -> None: ...

    async def update(self, msg: E.UpdateSession) -> None: ...

    async def command(self, cmd: Command) -> None: ...


class Reader:
    def __init__(self, host: ReaderHost) -> None:
        self.host = host

    async def run(self) -> None:
        host = self.host
        receive = host.transport.receive
        clock = asyncio.get_running_loop().time
        observe = host.metrics.observe
        record = FRAME_DELAYS.observe
        while True:
            msg = await receive()
            if msg is None:
                await host.command(Close())
                return
            try:
                if isinstance(msg, bytes):
                    now = clock()
                    self.on_audio(msg, now)
                    delay = clock() - now
                    record(delay)
                    observe(FRAME_DELAY_SECONDS, delay)
                else:
                    msg = W.parse_client(msg) if isinstance(msg, str) else msg
                    await self.on_message(msg)
            except ProtocolViolation as exc:
                # the refused message's, if it had one (read from the frame when it did not parse)
                host.error(exc, event_id=getattr(msg, "event_id", None) or exc.event_id)

    def on_audio(self, data: bytes, now: float) -> None:
        if len(data) > W.MAX_AUDIO_FRAME_BYTES or len(data) & 1:
            W.check_audio_frame(data)
        s = self.host.settings
        if s.agent_id is None:
            raise ProtocolViolation("send session.update with an agent (or connect with ?agent=) before audio",
                                    code="session_not_configured")
        if s.turn_mode == "text" or not data:
            return
        self.host.listener.on_audio(data, now)

    async def on_message(self, msg: W.ClientMessage | E.Command) -> None:
        host = self.host
        match msg:
            case W.SessionUpdate():
                await host.update(E.UpdateSession(msg.session, event_id=msg.event_id))
            case E.UpdateSession():
                await host.update(msg)
            case W.ResponseCreate():
                self._need_agent()
                modalities = tuple(msg.output_modalities) if msg.output_modalities else None
                await host.command(E.CreateResponse(msg.instructions, modalities, event_id=msg.event_id,
                                                    greeting=msg.greeting))
            case E.AddInput() | E.CreateResponse() | E.Truncate():
                self._need_agent()
                await host.command(msg)
            case W.InputText():
                self._need_agent()
                if msg.said_at is not None and msg.said_at > time.time() + C.SAID_AT_FUTURE_S:
                    raise in_the_future("said_at", msg.said_at)
                now = asyncio.get_running_loop().time()
                host.emit(E.Transcribed(msg.text, 0.0, 0.0, source="text"))
                await host.command(StartTurn(msg.text, TurnClock(transcript=now), msg.said_at))
            case W.InputAudioCommit():
                if host.settings.turn_mode == "text":
                    raise ProtocolViolation("input_audio.commit needs turn_mode server_vad or push_to_talk",
                                            code="invalid_state")
                host.listener.commit()
            case W.InputAudioClear():
                host.listener.clear()
            case W.ResponseCancel():
                await host.command(Cancel("client_cancelled", msg.response_id))
            case W.PlaybackProgress() | W.PlaybackStopped():
                resp = host.response
                if resp is None or resp.id != msg.response_id:
                    return  # a late report for a response already settled: harmless
                resp.reported_ms = max(resp.reported_ms or 0.0, msg.played_ms)
                if isinstance(msg, W.PlaybackStopped):
                    resp.final_report.set()
            case W.Ping():
                host.emit(E.Pong(msg.event_id))

    def _need_agent(self) -> None:
        if self.host.settings.agent_id is None:
            raise ProtocolViolation("no agent: send session.update with an agent first", code="no_agent")
