"""One voice conversation over one connection: the driver around the sans-I/O cores (docs/protocol.md).

One ``asyncio.TaskGroup`` per session:

- **reader**: receives frames, validates them (``wire.native``), answers bad input with typed errors, and
  runs each binary frame through ``InputPipeline`` (resample → 20 ms frames → VAD → ``TurnDetector``) inline,
  with barge-in detection and early (speculative) transcription while the user is silent but the turn is
  open. Commands go to the manager. Never awaits slow work (only a Silero load on reconfiguration).
  Inline, because a queue hop per 20 ms frame (a put, a task wake-up, a ``loop.time()``) cost more than the
  VAD itself at a few hundred sessions (docs/benchmarks.md, "Concurrent live sessions").
- **endpointer**: the end-of-turn timer (``InputPipeline.deadline()``/``on_timer``) when audio stops
  arriving mid-turn; it sleeps until the deadline and re-checks, so frames never reschedule it.
- **transcriber**: STT of finished utterances, in order, through the shared engines (worker threads behind
  a semaphore), then ``transcript.final`` and a start-turn command.
- **manager**: serializes response lifecycle: start a response (one cancellable **turn task**), cancel it
  (barge-in, ``response.cancel``, new input), and on a cut truncate the stored reply to what was heard.
- **writer**: ``Outbound.run()``: JSON at once, audio paced at real time by ``core.Pacer``.
- **memory**: forwards ``MemoryBus`` updates for the session's agent.

A turn task runs the agent (LLM + tools) and a speaker side by side: text deltas go through the
``SentenceSplitter`` to TTS one segment at a time, each segment's audio is resampled to the output rate
and pushed to the writer, and its text and length go to the response's ``PlayoutLedger``. Barge-in =
``Outbound.clear()`` + ``playback.clear`` + cancel the turn task (the agent persists the partial reply as
interrupted), wait up to ``FINAL_REPORT_WAIT_S`` for the client's final playback report, then
``VoiceAgent.truncate_reply`` to ``ledger.heard_text()`` at min(reported, written) ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from voice_letta import ids
from voice_letta.agent.bus import MemoryBus, MemoryUpdated
from voice_letta.agent.events import (
    ContentDelta,
    ToolCallFragment,
    ToolFinished,
    ToolStarted,
    TurnError,
    TurnFinished,
    TurnStarted,
)
from voice_letta.agent.loop import TurnInput, VoiceAgent
from voice_letta.agent.ports import Transcript
from voice_letta.core.playout import PlayoutLedger
from voice_letta.core.resample import StreamResampler
from voice_letta.core.turns import SpeechStarted, SpeechStopped, TurnEvent, TurnMode, UtteranceReady, VadParams
from voice_letta.core.vad import VoiceDetector
from voice_letta.errors import ProtocolViolation, VoiceLettaError
from voice_letta.session.audio_in import FRAME_MS, InputPipeline
from voice_letta.session.metrics import (
    BARGE_INS_TOTAL,
    ERRORS_TOTAL,
    FRAME_DELAY_SECONDS,
    FRAME_DELAYS,
    SESSIONS_ACTIVE,
    SESSIONS_TOTAL,
    TURNS_TOTAL,
    MetricsSink,
    NullMetrics,
    TurnClock,
)
from voice_letta.session.outbound import Outbound, OutboundOverflow
from voice_letta.session.sentences import SentenceSplitter
from voice_letta.session.speech import SpeechEngines
from voice_letta.session.transport import Transport
from voice_letta.wire import native as W
from voice_letta.wire import openai_chat as OC

log = logging.getLogger(__name__)

FINAL_REPORT_WAIT_S = 0.3  # after playback.clear, how long to wait for the client's final report
ECHO_GUARD_S = 0.25  # user speech in the first 250 ms of agent audio never counts towards a barge-in
ECHO_MARGIN_DB = 10.0  # while agent audio plays, barge-in frames must be this much louder than min_volume
SILERO_BARGE_MARGIN = 0.2  # ... and score this much above the threshold
SPECULATE_AFTER_MS = 240  # start transcribing after this much trailing silence of an open turn
DEFAULT_BARGE_IN_MIN_MS = 300
MS_PER_CHAR_GUESS = 65.0  # speech length of a character, for a segment cut before its audio was complete


class _Closed(Exception):
    pass


@dataclass
class Settings:
    agent_id: str | None = None
    input_rate_hz: int = W.DEFAULT_INPUT_RATE_HZ
    output_rate_hz: int = W.DEFAULT_OUTPUT_RATE_HZ
    turn_mode: TurnMode = "server_vad"
    vad: VadParams = field(default_factory=VadParams)
    vad_engine: W.VadEngine = "webrtc"
    barge_in_min_ms: int = DEFAULT_BARGE_IN_MIN_MS
    barge_in: bool = True
    voice: str | None = None
    speculative_stt: bool = True

    def state(self) -> W.SessionState:
        v = self.vad
        return W.SessionState(
            agent=self.agent_id, input_sample_rate_hz=self.input_rate_hz, output_sample_rate_hz=self.output_rate_hz,
            turn_mode=self.turn_mode, voice=self.voice,
            vad=W.VadState(engine=self.vad_engine, aggressiveness=v.aggressiveness, min_speech_ms=v.min_speech_ms,
                           silence_ms=v.silence_ms, prefix_padding_ms=v.prefix_padding_ms,
                           max_utterance_ms=v.max_utterance_ms, min_volume_dbfs=v.min_volume_dbfs,
                           threshold=v.threshold, barge_in_min_ms=self.barge_in_min_ms, barge_in=self.barge_in))


# -- queue items --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Utterance:
    pcm: bytes
    sample_rate_hz: int
    clock: TurnClock
    speculative: asyncio.Task[Transcript | BaseException] | None = None


@dataclass(frozen=True, slots=True)
class _StartTurn:
    text: str
    clock: TurnClock


@dataclass(frozen=True, slots=True)
class _Cancel:
    reason: str  # "barge_in" | "client_cancelled"
    response_id: str | None = None


@dataclass(frozen=True, slots=True)
class _Close:
    pass


_Command = _StartTurn | _Cancel | _Close


@dataclass(eq=False)
class Response:
    id: str
    clock: TurnClock
    ledger: PlayoutLedger = field(default_factory=PlayoutLedger)
    task: asyncio.Task[None] | None = None
    turn_id: str | None = None
    reported_ms: float | None = None
    final_report: asyncio.Event = field(default_factory=asyncio.Event)
    audio_started: bool = False
    first_audio_at: float | None = None
    finish: TurnFinished | None = None
    done: bool = False


class VoiceSession:
    def __init__(
        self,
        transport: Transport,
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
        self.transport = transport
        self.output_lead_ms = output_lead_ms
        self.agent = agent
        self.speech = speech
        self.resolve_agent = resolve_agent
        self.bus = bus
        self.metrics = metrics or NullMetrics()
        self.id = session_id or ids.new_id("sess")
        self.settings = Settings(agent_id=agent_id)
        self.response: Response | None = None
        self.turns = 0
        s = self.settings
        self._pipe = InputPipeline(s.input_rate_hz, s.vad, s.turn_mode)
        self._speculative: tuple[asyncio.Task[Transcript | BaseException], int] | None = None
        self._utt_in_response = False  # the open utterance began while the agent was responding
        self._utt_barge_ms = 0
        self._utt_barged = False
        self._endpoint_wake = asyncio.Event()  # set when a turn opens: the endpointer has a deadline to watch
        self._utterances: asyncio.Queue[_Utterance] = asyncio.Queue(8)
        self._commands: asyncio.Queue[_Command] = asyncio.Queue(64)
        self._agent_changed = asyncio.Event()
        self._tg: asyncio.TaskGroup | None = None
        self._frames = 0
        self.out: Outbound | None = None

    # -- lifecycle --------------------------------------------------------------------------------------
    async def run(self, *, initial_errors: tuple[VoiceLettaError, ...] = ()) -> None:
        self.out = Outbound(self.transport.send_text, self.transport.send_bytes, self.settings.output_rate_hz,
                            lead_ms=self.output_lead_ms)
        limits = {"max_audio_frame_bytes": W.MAX_AUDIO_FRAME_BYTES, "max_text_frame_bytes": W.MAX_TEXT_FRAME_BYTES,
                  "max_input_text_chars": W.MAX_INPUT_TEXT_CHARS}
        self._send(W.SessionCreated(session_id=self.id, session=self.settings.state(), limits=limits))
        for exc in initial_errors:
            self._error(exc)
        self.metrics.gauge_add(SESSIONS_ACTIVE, 1)
        self.metrics.inc(SESSIONS_TOTAL)
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                tg.create_task(self._reader(), name=f"{self.id}-reader")
                tg.create_task(self._endpointer(), name=f"{self.id}-endpointer")
                tg.create_task(self._transcriber(), name=f"{self.id}-stt")
                tg.create_task(self._manager(), name=f"{self.id}-manager")
                tg.create_task(self._writer(), name=f"{self.id}-writer")
                tg.create_task(self._memory(), name=f"{self.id}-memory")
        except* _Closed:
            pass
        except* OutboundOverflow:
            log.warning("session %s: client stopped reading; closing", self.id)
        finally:
            self.metrics.gauge_add(SESSIONS_ACTIVE, -1)
            if self.settings.agent_id is not None and self.turns:
                with contextlib.suppress(Exception):
                    await self.agent.end_session(self.settings.agent_id)

    def _send(self, message: W.ServerMessage) -> None:
        assert self.out is not None
        self.out.send(W.encode(message))

    def _error(self, exc: VoiceLettaError, *, event_id: str | None = None) -> None:
        self.metrics.inc(ERRORS_TOTAL, code=exc.code)
        self._send(W.ErrorOut(code=exc.code, message=exc.message,
                              retryable=bool(getattr(exc, "retryable", False)), event_id=event_id))

    # -- reader -----------------------------------------------------------------------------------------
    async def _reader(self) -> None:
        receive = self.transport.receive
        clock = asyncio.get_running_loop().time
        observe = self.metrics.observe
        record = FRAME_DELAYS.observe
        while True:
            msg = await receive()
            if msg is None:
                await self._commands.put(_Close())
                return
            try:
                if isinstance(msg, bytes):
                    now = clock()
                    self._on_audio(msg, now)
                    delay = clock() - now
                    record(delay)
                    observe(FRAME_DELAY_SECONDS, delay)
                elif isinstance(msg, str):
                    await self._on_text(msg)
            except ProtocolViolation as exc:
                self._error(exc)

    def _on_audio(self, data: bytes, now: float) -> None:
        """One binary frame, at once: validate, resample/frame/VAD/turns, barge-in, speculative STT."""
        if len(data) > W.MAX_AUDIO_FRAME_BYTES or len(data) & 1:
            W.check_audio_frame(data)
        s = self.settings
        if s.agent_id is None:
            raise ProtocolViolation("send session.update with an agent (or connect with ?agent=) before audio",
                                    code="session_not_configured")
        if s.turn_mode == "text" or not data:
            return
        pipe = self._pipe
        voiced_before = pipe.voiced_frames
        events = pipe.feed(data, now)
        self._frames += 1
        if pipe.detector.speaking:
            if pipe.mode == "server_vad" and not self._endpoint_wake.is_set():
                self._endpoint_wake.set()
            self._check_barge_in(pipe, now, pipe.voiced_frames - voiced_before)
            speculative = self._speculative
            if speculative is not None and pipe.voiced_frames != speculative[1]:
                speculative[0].cancel()  # the user went on talking: that guess is stale
                self._speculative = speculative = None
            if (speculative is None and s.speculative_stt and pipe.trailing_silence_ms >= SPECULATE_AFTER_MS
                    and pipe.mode == "server_vad" and (self._utt_barged or not self._utt_in_response)
                    and s.vad.silence_ms >= SPECULATE_AFTER_MS + 100 and self.speech.stt is not None):
                self._speculative = (self._spawn(self._safe_transcribe(pipe.detector.interim_pcm())),
                                     pipe.voiced_frames)
        if events:
            self._on_turn_events(pipe, events)

    async def _on_text(self, text: str) -> None:
        msg = W.parse_client(text)
        match msg:
            case W.SessionUpdate():
                await self._update(msg)
            case W.InputText():
                if self.settings.agent_id is None:
                    raise ProtocolViolation("no agent: send session.update with an agent first", code="no_agent")
                now = self._now()
                self._send(W.TranscriptFinal(text=msg.text, audio_ms=0.0, stt_ms=0.0, source="text"))
                await self._commands.put(_StartTurn(msg.text, TurnClock(transcript=now)))
            case W.InputAudioCommit():
                if self.settings.turn_mode == "text":
                    raise ProtocolViolation("input_audio.commit needs turn_mode server_vad or push_to_talk",
                                            code="invalid_state")
                self._on_turn_events(self._pipe, self._pipe.commit(self._now()))
            case W.InputAudioClear():
                self._on_turn_events(self._pipe, self._pipe.clear(self._now()))
            case W.ResponseCancel():
                await self._commands.put(_Cancel("client_cancelled", msg.response_id))
            case W.PlaybackProgress() | W.PlaybackStopped():
                resp = self.response
                if resp is None or resp.id != msg.response_id:
                    return  # a late report for a response already settled: harmless
                resp.reported_ms = max(resp.reported_ms or 0.0, msg.played_ms)
                if isinstance(msg, W.PlaybackStopped):
                    resp.final_report.set()
            case W.Ping():
                self._send(W.Pong(event_id=msg.event_id))

    async def _update(self, msg: W.SessionUpdate) -> None:
        s, new = self.settings, msg.session
        agent_id = s.agent_id
        if new.agent is not None:
            resolved = await self.resolve_agent(new.agent)
            if resolved != s.agent_id and self.turns:
                raise ProtocolViolation("the agent cannot change after the first turn; open a new session",
                                        code="agent_locked")
            agent_id = resolved
        vad = W.merge_vad(s.vad, new.vad)
        engine = (new.vad.engine if new.vad and new.vad.engine else None) or s.vad_engine
        if engine == "silero" and not _silero_possible():
            raise ProtocolViolation("Silero VAD is not available on this server (needs onnxruntime and "
                                    "faster-whisper's model)", code="vad_unavailable")
        # Everything is valid: apply it.
        if agent_id != s.agent_id:
            s.agent_id = agent_id
            self._agent_changed.set()
        if new.output_sample_rate_hz is not None:
            s.output_rate_hz = new.output_sample_rate_hz
        if new.voice is not None:
            s.voice = new.voice
        if new.vad is not None:
            if new.vad.barge_in_min_ms is not None:
                s.barge_in_min_ms = new.vad.barge_in_min_ms
            if new.vad.barge_in is not None:
                s.barge_in = new.vad.barge_in
        audio_changed = (vad != s.vad or engine != s.vad_engine
                         or (new.input_sample_rate_hz or s.input_rate_hz) != s.input_rate_hz
                         or (new.turn_mode or s.turn_mode) != s.turn_mode)
        s.vad, s.vad_engine = vad, engine
        s.input_rate_hz = new.input_sample_rate_hz or s.input_rate_hz
        s.turn_mode = new.turn_mode or s.turn_mode
        if audio_changed:
            await self._reconfigure()
        self._send(W.SessionUpdated(session=s.state(), event_id=msg.event_id))

    # -- audio control -----------------------------------------------------------------------------------
    async def _reconfigure(self) -> None:
        """A new pipeline for new input settings (what was buffered is discarded, as by a clear)."""
        s = self.settings
        self._on_turn_events(self._pipe, self._pipe.clear(self._now()))
        detector: VoiceDetector | None = None
        if s.vad_engine == "silero":
            try:
                detector = await self.speech.new_silero()
            except (ImportError, FileNotFoundError, OSError) as exc:
                self._error(ProtocolViolation(f"Silero VAD failed to load ({exc}); using webrtc",
                                              code="vad_unavailable"))
        self._pipe = InputPipeline(s.input_rate_hz, s.vad, s.turn_mode, voice_detector=detector)
        self._endpoint_wake.set()

    async def _endpointer(self) -> None:
        """End a turn when audio stops arriving mid-turn (``deadline()``/``on_timer``)."""
        loop = asyncio.get_running_loop()
        wake = self._endpoint_wake
        while True:
            wake.clear()
            deadline = self._pipe.deadline()
            if deadline is None:
                await wake.wait()
                continue
            now = loop.time()
            if now < deadline:
                # Frames move the deadline later; sleeping to the old one and re-checking is enough.
                await asyncio.sleep(deadline - now)
                continue
            self._on_turn_events(self._pipe, self._pipe.on_timer(now))

    def _on_turn_events(self, pipe: InputPipeline, events: list[TurnEvent]) -> None:
        for ev in events:
            if isinstance(ev, SpeechStarted):
                resp = self.response
                self._utt_in_response = resp is not None and not resp.done
                self._utt_barge_ms = 0
                self._utt_barged = False
                self._send(W.SpeechStartedOut(audio_start_ms=ev.audio_start_ms))
            elif isinstance(ev, SpeechStopped):
                self._send(W.SpeechStoppedOut(audio_end_ms=ev.audio_end_ms))
            elif isinstance(ev, UtteranceReady):
                spec = None
                speculative = self._speculative
                if speculative is not None:
                    if speculative[1] == pipe.voiced_frames and ev.reason != "max_duration":
                        spec = speculative[0]
                    else:
                        speculative[0].cancel()
                    self._speculative = None
                ignored = (pipe.mode == "server_vad" and self._utt_in_response and not self._utt_barged
                           and (not self.settings.barge_in or self._utt_barge_ms < self.settings.barge_in_min_ms))
                self._utt_in_response = False
                if ignored:  # a cough or backchannel over the agent: not a turn
                    if spec is not None:
                        spec.cancel()
                    continue
                clock = TurnClock(speech_end=min(pipe.last_voiced_at, ev.ended_at), turn_detected=ev.ended_at)
                try:
                    self._utterances.put_nowait(_Utterance(ev.pcm, ev.sample_rate_hz, clock, spec))
                except asyncio.QueueFull:
                    self._error(ProtocolViolation("too many utterances waiting for transcription; one dropped",
                                                  code="stt_overloaded"))

    def _check_barge_in(self, pipe: InputPipeline, now: float, voiced_frames: int) -> None:
        """Count strongly voiced audio of an utterance that started over the agent; cut the agent at the limit."""
        if not self._utt_in_response or self._utt_barged or pipe.mode != "server_vad":
            return
        s = self.settings
        resp = self.response
        gate = pipe.gate
        strong = pipe.last_voiced_at == now and gate.last_score >= s.vad.threshold
        if resp is not None and resp.first_audio_at is not None and not resp.done:
            # Agent audio is playing: guard against its echo.
            too_soon = now - resp.first_audio_at < ECHO_GUARD_S
            too_quiet = gate.last_dbfs < s.vad.min_volume_dbfs + ECHO_MARGIN_DB
            unsure = s.vad_engine == "silero" and gate.last_score < min(1.0, s.vad.threshold + SILERO_BARGE_MARGIN)
            if too_soon or too_quiet or unsure:
                strong = False
        if strong:
            # ms of voiced frames this chunk produced: the input resampler may release frames in bursts
            # (soxr MQ at 8 kHz: ~100 ms at a time), so count frames, not input chunks
            self._utt_barge_ms += FRAME_MS * max(1, voiced_frames)
        if (s.barge_in and resp is not None and not resp.done and self._utt_barge_ms >= s.barge_in_min_ms):
            self._utt_barged = True
            with contextlib.suppress(asyncio.QueueFull):
                self._commands.put_nowait(_Cancel("barge_in", resp.id))

    async def _safe_transcribe(self, pcm: bytes) -> Transcript | BaseException:
        try:
            return await self.speech.transcribe(pcm, 16000)
        except VoiceLettaError as exc:
            return exc

    # -- transcriber ------------------------------------------------------------------------------------
    async def _transcriber(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            utt = await self._utterances.get()
            result: Transcript | BaseException | None = None
            if utt.speculative is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    result = await utt.speculative
                if isinstance(result, BaseException):
                    result = None
            if result is None:
                result = await self._safe_transcribe(utt.pcm)
            if isinstance(result, VoiceLettaError):
                self._error(result)
                continue
            assert isinstance(result, Transcript)
            now = loop.time()
            utt.clock.stamp("transcript", now)
            text = result.text.strip()
            if not text:
                continue  # noise that the VAD let through: no turn
            audio_ms = len(utt.pcm) // 2 * 1000.0 / utt.sample_rate_hz
            stt_ms = (now - utt.clock.turn_detected) * 1000.0 if utt.clock.turn_detected else result.processing_ms
            self._send(W.TranscriptFinal(text=text, audio_ms=round(audio_ms, 1), stt_ms=round(stt_ms, 1)))
            await self._commands.put(_StartTurn(text, utt.clock))

    # -- manager ----------------------------------------------------------------------------------------
    async def _manager(self) -> None:
        while True:
            cmd = await self._commands.get()
            match cmd:
                case _StartTurn():
                    await self._interrupt("superseded")
                    self._start_response(cmd)
                case _Cancel():
                    resp = self.response
                    if resp is not None and (cmd.response_id is None or cmd.response_id == resp.id):
                        await self._interrupt(cmd.reason)
                case _Close():
                    await self._interrupt("disconnected", wait_report=False)
                    raise _Closed

    def _start_response(self, cmd: _StartTurn) -> None:
        assert self._tg is not None and self.out is not None
        resp = Response(id=ids.new_id("resp"), clock=cmd.clock)
        if self.out.sample_rate_hz != self.settings.output_rate_hz:
            self.out.set_rate(self.settings.output_rate_hz)
        self.response = resp
        self.turns += 1
        self.metrics.inc(TURNS_TOTAL)
        resp.task = self._tg.create_task(self._respond(resp, cmd.text), name=f"{self.id}-turn")

    async def _interrupt(self, reason: str, *, wait_report: bool = True) -> None:
        resp = self.response
        if resp is None:
            return
        assert self.out is not None and resp.task is not None
        if resp.done:
            self.response = None
            return
        ahead_ms = self.out.ahead_ms()
        sent_ms = self.out.clear()
        resp.done = True
        if resp.audio_started:
            self._send(W.PlaybackClear(response_id=resp.id))
        resp.task.cancel()
        await asyncio.wait([resp.task])
        if reason == "barge_in":
            self.metrics.inc(BARGE_INS_TOTAL)
        if sent_ms > 0 and wait_report and not resp.final_report.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FINAL_REPORT_WAIT_S):
                    await resp.final_report.wait()
        # Never more than we wrote; with no report at all, only what has had time to play out of it.
        heard_ms = min(resp.reported_ms, sent_ms) if resp.reported_ms is not None else max(0.0, sent_ms - ahead_ms)
        resp.ledger.on_played(heard_ms)
        heard = resp.ledger.heard_text()
        if resp.turn_id is not None and self.settings.agent_id is not None:
            try:
                await self.agent.truncate_reply(self.settings.agent_id, resp.turn_id, heard)
            except VoiceLettaError as exc:
                log.warning("session %s: truncating turn %s failed: %s", self.id, resp.turn_id, exc.code)
        self._send(W.ResponseDone(response_id=resp.id, turn_id=resp.turn_id, status="cancelled",
                                  finish_reason=reason, usage=_usage(resp.finish),
                                  timings_ms=resp.clock.timings_ms(), heard_text=heard))
        if self.response is resp:
            self.response = None

    # -- the turn task: agent → sentences → TTS → writer --------------------------------------------------
    async def _respond(self, resp: Response, text: str) -> None:
        assert self.out is not None and self.settings.agent_id is not None
        self._send(W.ResponseCreated(response_id=resp.id))
        segments: asyncio.Queue[str | None] = asyncio.Queue()
        status: str = "completed"
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._speak(resp, segments))
                tg.create_task(self.agent.prefetch_memory(self.settings.agent_id, text))
                await self._think(resp, text, segments)
            await self.out.audio_drained()
        except* VoiceLettaError as group:  # the agent could not even start (store down, agent deleted)
            exc = group.exceptions[0]
            assert isinstance(exc, VoiceLettaError)
            self._error(exc)
            status = "failed"
        except* Exception as group:  # a bug: end the response in-band, keep the session
            log.error("session %s: response %s failed", self.id, resp.id, exc_info=group.exceptions[0])
            self._error(VoiceLettaError("internal error while responding"))
            status = "failed"
        if resp.finish is not None and resp.finish.finish_reason == "error":
            status = "failed"
        resp.done = True
        finish = resp.finish.finish_reason if resp.finish is not None else "error"
        resp.clock.export(self.metrics)
        self._send(W.ResponseDone(response_id=resp.id, turn_id=resp.turn_id, status=status,  # type: ignore[arg-type]
                                  finish_reason=finish, usage=_usage(resp.finish),
                                  timings_ms={**resp.clock.timings_ms(),
                                              **{f"agent.{k}": round(v, 1) for k, v in
                                                 (resp.finish.timings_ms if resp.finish else {}).items()}}))
        if self.response is resp:
            self.response = None

    async def _think(self, resp: Response, text: str, segments: asyncio.Queue[str | None]) -> None:
        assert self.settings.agent_id is not None
        loop = asyncio.get_running_loop()
        splitter = SentenceSplitter()
        cid, created, model = ids.completion_id(), int(time.time()), self.settings.agent_id
        last_kind = "content"
        tool_index: dict[int, int] = {}

        def put(segs: list[str]) -> None:
            for seg in segs:
                segments.put_nowait(seg)

        def chunk(kind: str | None = None, **kw: object) -> None:
            self._send(W.ResponseChunk(response_id=resp.id, chunk=OC.chunk(cid, created, model, **kw),  # type: ignore[arg-type]
                                       kind=kind))  # type: ignore[arg-type]

        try:
            stream = self.agent.run_turn(self.settings.agent_id, TurnInput(user_text=text))
            async with contextlib.aclosing(stream) as events:
                async for ev in events:
                    match ev:
                        case TurnStarted():
                            resp.turn_id = ev.turn_id
                            chunk(role=True, content="")
                        case ContentDelta():
                            now = loop.time()
                            resp.clock.stamp("first_token", now)
                            resp.clock.stamp("first_content", now)
                            chunk(content=ev.text, kind=ev.kind)
                            kind = "filler" if ev.kind == "filler" else "content"
                            if kind != last_kind:
                                put(splitter.flush())
                                last_kind = kind
                            put(splitter.feed(ev.text))
                        case ToolCallFragment():
                            resp.clock.stamp("first_token", loop.time())
                            index = tool_index.setdefault(ev.index, len(tool_index))
                            chunk(tool_call=OC.tool_call_delta(index, ev.call_id, ev.name, ev.arguments))
                            if last_kind == "filler":
                                put(splitter.flush_if_terminal())
                        case ToolStarted():
                            put(splitter.flush())
                            self._send(W.ToolStartedOut(response_id=resp.id, call_id=ev.call_id, name=ev.name,
                                                        filler=ev.filler))
                        case ToolFinished():
                            self._send(W.ToolFinishedOut(response_id=resp.id, call_id=ev.call_id, name=ev.name,
                                                         ok=ev.ok, duration_ms=round(ev.duration_ms, 1)))
                        case TurnError():
                            self._error(VoiceLettaError(ev.message, code=ev.code) if not ev.retryable
                                        else _Retryable(ev.message, code=ev.code))
                        case TurnFinished():
                            resp.finish = ev
                            reason = "stop" if ev.finish_reason in ("error", "cancelled") else ev.finish_reason
                            chunk(finish_reason=reason)
            put(splitter.flush())
        finally:
            segments.put_nowait(None)

    async def _speak(self, resp: Response, segments: asyncio.Queue[str | None]) -> None:
        out, tts = self.out, self.speech.tts
        assert out is not None
        warned = False
        resampler: StreamResampler | None = None
        while (seg := await segments.get()) is not None:
            if tts is None or not seg.strip():
                if tts is None and not warned:
                    self._error(VoiceLettaError("no text-to-speech engine on this server: text only",
                                                code="tts_unavailable"))
                    warned = True
                resp.ledger.add_segment(seg, 0.0)
                continue
            if not resp.audio_started:
                resp.audio_started = True

                def first_audio(at: float) -> None:
                    resp.first_audio_at = at
                    resp.clock.stamp("first_audio", at)

                out.begin_response(first_audio)
                self._send(W.AudioStart(response_id=resp.id, sample_rate_hz=out.sample_rate_hz))
            pushed_ms = 0.0
            try:
                async for part in tts.synthesize(seg.strip(), voice=self.settings.voice):
                    if resampler is None or resampler.in_rate_hz != part.sample_rate_hz \
                            or resampler.out_rate_hz != out.sample_rate_hz:
                        resampler = StreamResampler(part.sample_rate_hz, out.sample_rate_hz, quality="MQ")
                    pcm = resampler.feed(part.pcm16)
                    pushed_ms += len(pcm) // 2 * 1000.0 / out.sample_rate_hz
                    await out.push_audio(pcm)
                if resampler is not None:
                    tail = resampler.flush()
                    pushed_ms += len(tail) // 2 * 1000.0 / out.sample_rate_hz
                    await out.push_audio(tail)
                resp.ledger.add_segment(seg, pushed_ms)
            except asyncio.CancelledError:
                # Cut mid-segment: its full length is unknown; guess it from the speech rate so far.
                done = [s for s in resp.ledger.segments if s.audio_ms > 0]
                rate = (sum(s.audio_ms for s in done) / max(1, sum(len(s.text.strip()) for s in done))
                        if done else MS_PER_CHAR_GUESS)
                resp.ledger.add_segment(seg, max(pushed_ms, len(seg.strip()) * rate))
                raise
            except VoiceLettaError as exc:
                self._error(exc)
                resp.ledger.add_segment(seg, pushed_ms)
        if resp.audio_started:
            out.send_after_audio(W.encode(W.AudioDone(response_id=resp.id,
                                                      audio_ms=round(resp.ledger.synthesized_ms, 1))))

    # -- writer and memory --------------------------------------------------------------------------------
    async def _writer(self) -> None:
        assert self.out is not None
        try:
            await self.out.run()
        except (ConnectionError, RuntimeError) as exc:  # the socket went away under us
            log.debug("session %s: send failed: %s", self.id, exc)
            await self._commands.put(_Close())
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
                        self._send_memory(getter.result())
            finally:
                self.bus.unsubscribe(agent_id, queue)

    def _send_memory(self, ev: MemoryUpdated) -> None:
        self._send(W.MemoryUpdatedOut(
            agent_id=ev.agent_id, passages_added=ev.passages_added, reason=ev.reason,
            blocks=[W.BlockOut(label=b.label, value=b.value, version=b.version) for b in ev.blocks]))

    # -- helpers ------------------------------------------------------------------------------------------
    def _spawn(self, coro: Awaitable[Transcript | BaseException]) -> asyncio.Task[Transcript | BaseException]:
        assert self._tg is not None
        return self._tg.create_task(coro)  # type: ignore[arg-type]

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()


class _Retryable(VoiceLettaError):
    retryable = True


def _usage(finish: TurnFinished | None) -> dict[str, int]:
    if finish is None:
        return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cached_tokens": 0}
    u = finish.usage
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
            "total_tokens": u.total_tokens or u.prompt_tokens + u.completion_tokens, "cached_tokens": u.cached_tokens}


def _silero_possible() -> bool:
    import importlib.util

    from voice_letta.core.vad import default_silero_model_path

    return importlib.util.find_spec("onnxruntime") is not None and default_silero_model_path() is not None
