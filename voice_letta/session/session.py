"""One voice conversation over one connection: the driver around the sans-I/O cores (docs/protocol.md).

The session speaks in typed events (``session.events``); the transport's protocol adapter encodes them
(``session.native`` for ``/v1/voice`` and the Twilio bridge, ``session.realtime`` for ``/v1/realtime``).
One ``asyncio.TaskGroup`` per session:

- **reader** (``session.reader``): receives frames; binary audio goes through the ``Listener`` inline
  (resample → 20 ms frames → VAD → turns, barge-in, early transcription); text frames are parsed
  (``wire.native``) or arrive already typed from an adapter; bad input is answered with a typed error.
  Commands (``session.commands``) go to the manager. Never awaits slow work (only a Silero load on
  reconfiguration, in ``VoiceSession.update``).
- **endpointer** and **transcriber**: the ``Listener``'s timer and speech-to-text tasks (``session.listener``).
- **manager**: serializes the response lifecycle: start a response (one cancellable turn task,
  ``session.responder``), cancel it (barge-in, ``response.cancel``, new input), and on a cut truncate the
  stored reply to what was heard.
- **writer**: ``Outbound.run()``: events at once, audio paced at real time by ``core.Pacer``.
- **memory**: forwards ``MemoryBus`` updates for the session's agent.

Barge-in = ``Outbound.clear()`` + ``PlaybackCleared`` + cancel the turn task (the agent persists the partial
reply as interrupted), wait up to ``FINAL_REPORT_WAIT_S`` for the client's final playback report, then
``VoiceAgent.truncate_reply`` to ``ledger.heard_text()`` at min(reported, written) ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import replace

from voice_letta import ids
from voice_letta.agent.bus import MemoryBus
from voice_letta.agent.loop import TurnInput, VoiceAgent
from voice_letta.core.vad import VoiceDetector
from voice_letta.errors import ProtocolViolation, VoiceLettaError
from voice_letta.session import events as E
from voice_letta.session.commands import Cancel, Close, Command, StartTurn
from voice_letta.session.greeting import greeting_input
from voice_letta.session.listener import Listener
from voice_letta.session.metrics import (
    ERRORS_TOTAL,
    SESSIONS_ACTIVE,
    SESSIONS_TOTAL,
    TURNS_TOTAL,
    MetricsSink,
    NullMetrics,
    TurnClock,
)
from voice_letta.session.native import as_event_transport
from voice_letta.session.outbound import Outbound, OutboundOverflow
from voice_letta.session.partials import Result
from voice_letta.session.pending import MAX_TURN_TEXT_CHARS, PendingInput
from voice_letta.session.reader import Reader
from voice_letta.session.responder import Response, cut, heard_of, run_response, truncate_to
from voice_letta.session.settings import Settings
from voice_letta.session.speech import SpeechEngines
from voice_letta.session.transport import EventTransport, Transport
from voice_letta.wire import native as W

log = logging.getLogger(__name__)

SETTLE_WAIT_S = 15.0  # how long a response.create waits for the transcripts of utterances committed before it
MAX_RECENT_RESPONSES = 16  # ended responses a late Truncate (Realtime conversation.item.truncate) may name


class _Closed(Exception):
    pass


class VoiceSession:
    def __init__(
        self,
        transport: Transport | EventTransport,
        agent: VoiceAgent,
        speech: SpeechEngines,
        *,
        resolve_agent: Callable[[str], Awaitable[str]],
        bus: MemoryBus | None = None,
        metrics: MetricsSink | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        output_lead_ms: float = 80.0,  # audio sent ahead of real time (the Twilio bridge asks for 60)
    ) -> None:
        self.transport = as_event_transport(transport)
        self.output_lead_ms = output_lead_ms
        self.agent = agent
        self.speech = speech
        self.resolve_agent = resolve_agent
        self.bus = bus
        self.metrics = metrics or NullMetrics()
        self.id = session_id or ids.new_id("sess")
        self.settings = Settings(agent_id=agent_id)
        self._response: Response | None = None
        self._recent: OrderedDict[str, Response] = OrderedDict()  # ended responses, for a late Truncate
        self._pending = PendingInput()
        self.turns = 0
        self.listener = Listener(self)
        self._commands: asyncio.Queue[Command] = asyncio.Queue(64)
        self._agent_changed = asyncio.Event()
        self._tg: asyncio.TaskGroup | None = None
        self._out: Outbound | None = None

    @property
    def out(self) -> Outbound | None:
        return self._out

    @property
    def response(self) -> Response | None:
        return self._response

    # -- lifecycle --------------------------------------------------------------------------------------
    async def run(self, *, initial_errors: tuple[VoiceLettaError, ...] = ()) -> None:
        t = self.transport
        self._out = Outbound(t.send_event, t.send_bytes, self.settings.output_rate_hz, lead_ms=self.output_lead_ms)
        limits = {"max_audio_frame_bytes": W.MAX_AUDIO_FRAME_BYTES, "max_text_frame_bytes": W.MAX_TEXT_FRAME_BYTES,
                  "max_input_text_chars": W.MAX_INPUT_TEXT_CHARS}
        self.emit(E.SessionStarted(self.id, self.settings.snapshot(), limits))
        for exc in initial_errors:
            self.error(exc)
        self.metrics.gauge_add(SESSIONS_ACTIVE, 1)
        self.metrics.inc(SESSIONS_TOTAL)
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                tg.create_task(Reader(self).run(), name=f"{self.id}-reader")
                tg.create_task(self.listener.endpointer(), name=f"{self.id}-endpointer")
                tg.create_task(self.listener.transcriber(), name=f"{self.id}-stt")
                tg.create_task(self._manager(), name=f"{self.id}-manager")
                tg.create_task(self._writer(), name=f"{self.id}-writer")
                tg.create_task(self._memory(), name=f"{self.id}-memory")
        except* _Closed:
            pass
        except* OutboundOverflow:
            log.warning("session %s: client stopped reading; closing", self.id)
        finally:
            self.metrics.gauge_add(SESSIONS_ACTIVE, -1)
            agent_id = self.settings.agent_id
            if agent_id is not None and self._pending:  # accepted input never answered: keep it
                try:
                    await self.agent.store_input(agent_id, self._pending.take(self.settings))
                    self.turns += 1
                except VoiceLettaError as exc:
                    log.warning("session %s: storing pending input failed: %s", self.id, exc.code)
            if agent_id is not None and self.turns:
                with contextlib.suppress(Exception):
                    await self.agent.end_session(agent_id)

    def emit(self, event: E.SessionEvent) -> None:
        assert self._out is not None
        self._out.send(event)

    def error(self, exc: VoiceLettaError, *, event_id: str | None = None, utterance_id: str | None = None,
              response_id: str | None = None) -> None:
        self.metrics.inc(ERRORS_TOTAL, code=exc.code)
        self.emit(E.ErrorRaised(exc.code, exc.message, bool(getattr(exc, "retryable", False)), event_id,
                                utterance_id, response_id))

    def spawn(self, coro: Awaitable[Result]) -> asyncio.Task[Result]:
        assert self._tg is not None
        return self._tg.create_task(coro)  # type: ignore[arg-type]

    async def command(self, cmd: Command) -> None:
        await self._commands.put(cmd)

    def barge_in(self, response_id: str) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._commands.put_nowait(Cancel("barge_in", response_id))

    async def user_turn(self, text: str, clock: TurnClock, utterance_id: str | None) -> None:
        if self.settings.auto_respond:
            await self._commands.put(StartTurn(text, clock))
        else:  # it waits for the client's response.create (before that create is handled: see CreateResponse)
            self._pending.add(E.AddInput(user_text=text))

    def give_back_input(self, items: tuple[E.AddInput, ...]) -> None:
        self._pending.give_back(items)

    def response_finished(self, resp: Response) -> None:
        if self._response is resp:
            self._response = None
        self._recent[resp.id] = resp
        while len(self._recent) > MAX_RECENT_RESPONSES:
            self._recent.popitem(last=False)

    # -- session.update ----------------------------------------------------------------------------------
    async def update(self, msg: E.UpdateSession) -> None:
        agent_id = None
        if msg.session.agent is not None:
            agent_id = await self.resolve_agent(msg.session.agent)
            if agent_id != self.settings.agent_id and self.turns:
                raise ProtocolViolation("the agent cannot change after the first turn; open a new session",
                                        code="agent_locked")
        change = self.settings.apply(msg, agent_id)
        if change.agent:
            self._agent_changed.set()
        if change.audio:
            await self._reconfigure()
        self.emit(E.SessionChanged(self.settings.snapshot(), msg.event_id))

    async def _reconfigure(self) -> None:
        detector: VoiceDetector | None = None
        if self.settings.vad_engine == "silero":
            try:
                detector = await self.speech.new_silero()
            except (ImportError, FileNotFoundError, OSError) as exc:
                self.error(ProtocolViolation(f"Silero VAD failed to load ({exc}); using webrtc",
                                             code="vad_unavailable"))
        self.listener.reconfigure(detector)

    # -- manager ----------------------------------------------------------------------------------------
    async def _manager(self) -> None:
        while True:
            cmd = await self._commands.get()
            match cmd:
                case StartTurn():
                    await self._interrupt("superseded")
                    await self._store_overflow(len(cmd.text))
                    self._start_response(cmd.clock, self._pending.take(self.settings, user_text=cmd.text,
                                                                       said_at=cmd.said_at))
                case E.AddInput():
                    self._pending.add(cmd)
                case E.CreateResponse():
                    resp = self._response
                    if resp is not None and not resp.done:
                        self.error(ProtocolViolation(f"response {resp.id} is still in progress: cancel it or wait "
                                                     "for response.done", code="response_in_progress"),
                                   event_id=cmd.event_id)
                        continue
                    with contextlib.suppress(TimeoutError):  # an utterance committed before it is part of it
                        async with asyncio.timeout(SETTLE_WAIT_S):
                            await self.listener.settled()
                    inp = self._pending.take(self.settings, instructions=cmd.instructions, tools=cmd.tools,
                                             tool_choice=cmd.tool_choice)
                    if cmd.greeting and self.settings.agent_id is not None:
                        inp = greeting_input(await self.agent.store.get_agent(self.settings.agent_id), inp,
                                             where=self.settings.channel)
                    self._start_response(TurnClock(transcript=asyncio.get_running_loop().time()), inp,
                                         modalities=cmd.modalities, metadata=cmd.metadata)
                case E.Truncate():
                    try:
                        await self._truncate(cmd)
                    except ProtocolViolation as exc:  # a response too old to remember: refused, session goes on
                        self.error(exc)
                case Cancel():
                    resp = self._response
                    if resp is not None and (cmd.response_id is None or cmd.response_id == resp.id):
                        await self._interrupt(cmd.reason)
                case Close():
                    await self._interrupt("disconnected", wait_report=False)
                    raise _Closed

    async def _store_overflow(self, adding: int) -> None:
        """Input given back by responses cut before their turn began joins the next turn; when that would pass one
        turn's size, what waits is stored at once as a turn of its own (no reply), as at the session's end."""
        agent_id = self.settings.agent_id
        if agent_id is None or not self._pending or self._pending.text_chars() + adding <= MAX_TURN_TEXT_CHARS:
            return
        try:
            await self.agent.store_input(agent_id, self._pending.take(self.settings))
            self.turns += 1
        except VoiceLettaError as exc:
            log.warning("session %s: storing waiting input failed: %s", self.id, exc.code)

    def _start_response(self, clock: TurnClock, inp: TurnInput, *, modalities: tuple[E.Modality, ...] | None = None,
                        metadata: dict[str, str] | None = None) -> None:
        assert self._tg is not None and self._out is not None
        resp = Response(id=ids.new_id("resp"), clock=clock, modalities=modalities or self.settings.modalities,
                        metadata=metadata, taken=self._pending.last_taken)
        inp = replace(inp, on_stored=resp.mark_stored)
        if self._out.sample_rate_hz != self.settings.output_rate_hz:
            self._out.set_rate(self.settings.output_rate_hz)
        self._response = resp
        self.turns += 1
        self.metrics.inc(TURNS_TOTAL)
        resp.task = self._tg.create_task(run_response(self, resp, inp), name=f"{self.id}-turn")

    async def _interrupt(self, reason: str, *, wait_report: bool = True) -> None:
        resp = self._response
        if resp is None:
            return
        if resp.done:
            self._response = None
            return
        await cut(self, resp, reason, wait_report=wait_report)

    async def _truncate(self, cmd: E.Truncate) -> None:
        """The client heard only part of a response: cut its stored reply now, or when it ends if still running."""
        resp = self._response if self._response is not None and self._response.id == cmd.response_id else None
        if resp is not None and not resp.done:
            resp.truncate = cmd
            if cmd.heard_ms is not None:
                resp.reported_ms = cmd.heard_ms
                resp.final_report.set()
            self.emit(E.ResponseTruncated(resp.id, cmd.heard_ms, heard_of(resp, cmd)))
            return
        resp = resp or self._recent.get(cmd.response_id)
        if resp is None:
            raise ProtocolViolation(f"no recent response {cmd.response_id[:80]!r} to truncate", code="invalid_value")
        await truncate_to(self, resp, cmd)

    # -- writer and memory --------------------------------------------------------------------------------
    async def _writer(self) -> None:
        assert self._out is not None
        try:
            await self._out.run()
        except (ConnectionError, RuntimeError) as exc:  # the socket went away under us
            log.debug("session %s: send failed: %s", self.id, exc)
            await self._commands.put(Close())
            await asyncio.Event().wait()

    async def _memory(self) -> None:
        """Per agent of the session: load its memory index ahead of the first search, relay memory updates."""
        while True:
            agent_id = self.settings.agent_id
            if agent_id is None:
                self._agent_changed.clear()
                await self._agent_changed.wait()
                continue
            self._agent_changed.clear()
            assert self._tg is not None
            self._tg.create_task(self.agent.warm_memory(agent_id), name=f"{self.id}-warm-memory")
            # the embedded model: prefill the system prompt and history now, not in the first turn
            self._tg.create_task(self.agent.warm_prompt(agent_id), name=f"{self.id}-warm-prompt")
            if self.bus is None:
                await self._agent_changed.wait()
                continue
            queue = self.bus.subscribe(agent_id)
            try:
                while not self._agent_changed.is_set():
                    getter = asyncio.ensure_future(queue.get())
                    changed = asyncio.ensure_future(self._agent_changed.wait())
                    try:
                        await asyncio.wait({getter, changed}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        changed.cancel()
                        if not getter.done():
                            getter.cancel()
                    if getter.done() and not getter.cancelled():
                        self.emit(E.MemoryChanged(getter.result()))
                        if self._response is None:  # memory rebuilt the prompt: warm it again between turns
                            self._tg.create_task(self.agent.warm_prompt(agent_id), name=f"{self.id}-warm-prompt")
            finally:
                self.bus.unsubscribe(agent_id, queue)
