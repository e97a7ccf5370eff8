"""The listening half of a session: audio in → VAD → turns → barge-in → speech-to-text → user turns.

``Listener.on_audio(pcm, now)`` runs each binary frame through the sans-I/O ``InputPipeline`` (resample →
20 ms frames → VAD → ``TurnDetector``) inline in the session's reader, counts barge-in, and has the open
utterance transcribed while it is spoken (``session.partials``: captions, end of turn on words, and an early
final transcript while the user is silent but the turn is still open). Two tasks of the session's
TaskGroup belong here: ``endpointer()`` (the end-of-turn timer when audio stops arriving mid-turn; it sleeps
until the detector's deadline and re-checks, so frames never reschedule it) and ``transcriber()`` (STT of
finished utterances, in order, through the shared engines, then a user turn).

Inline, because a queue hop per 20 ms frame (a put, a task wake-up, a ``loop.time()``) cost more than the
VAD itself at a few hundred sessions (docs/benchmarks.md, "Concurrent live sessions").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from voice_letta import ids
from voice_letta.agent.ports import Transcript
from voice_letta.core.audio import pcm16_ms
from voice_letta.core.turns import SpeechStarted, SpeechStopped, TurnEvent, UtteranceDiscarded, UtteranceReady
from voice_letta.core.vad import VoiceDetector
from voice_letta.errors import ProtocolViolation, VoiceLettaError
from voice_letta.session import events as E
from voice_letta.session.audio_in import FRAME_MS, InputPipeline
from voice_letta.session.metrics import TurnClock
from voice_letta.session.partials import Partials, Result
from voice_letta.session.settings import Settings
from voice_letta.session.speech import SpeechEngines

if TYPE_CHECKING:
    from voice_letta.session.responder import Response

log = logging.getLogger(__name__)

ECHO_GUARD_S = 0.25  # user speech in the first 250 ms of agent audio never counts towards a barge-in
ECHO_MARGIN_DB = 10.0  # while agent audio plays, barge-in frames must be this much louder than min_volume
SILERO_BARGE_MARGIN = 0.2  # ... and score this much above the threshold
MAX_WAITING_UTTERANCES = 8


class ListenerHost(Protocol):
    """What the listener needs from its session."""

    settings: Settings
    speech: SpeechEngines

    @property
    def response(self) -> Response | None: ...

    def emit(self, event: E.SessionEvent) -> None: ...

    def error(self, exc: VoiceLettaError, *, utterance_id: str | None = None) -> None: ...

    def spawn(self, coro: Awaitable[Result]) -> asyncio.Task[Result]: ...

    def barge_in(self, response_id: str) -> None: ...

    async def user_turn(self, text: str, clock: TurnClock, utterance_id: str | None) -> None: ...


@dataclass(frozen=True, slots=True)
class _Utterance:
    id: str
    pcm: bytes
    sample_rate_hz: int
    clock: TurnClock
    speculative: asyncio.Task[Result] | None = None


class Listener:
    def __init__(self, host: ListenerHost) -> None:
        self.host = host
        s = host.settings
        self.pipe = InputPipeline(s.input_rate_hz, s.vad, s.turn_mode, punctuated=host.speech.punctuates)
        self.partials = Partials(host, self.on_turn_events)
        self._utt_id = ids.new_id("utt")  # id of the utterance being heard (or the next one)
        self._utt_in_response = False  # the open utterance began while the agent was responding
        self._utt_barge_ms = 0
        self._utt_barged = False
        self._endpoint_wake = asyncio.Event()  # set when a turn opens: the endpointer has a deadline to watch
        self._utterances: asyncio.Queue[_Utterance] = asyncio.Queue(MAX_WAITING_UTTERANCES)
        self._settled = asyncio.Event()  # no utterance waits for (or is in) speech-to-text
        self._settled.set()
        self.frames = 0

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    # -- audio, inline in the reader ----------------------------------------------------------------------
    def on_audio(self, data: bytes, now: float) -> None:
        """One binary frame, at once: resample/frame/VAD/turns, barge-in, transcripts of the open utterance."""
        pipe = self.pipe
        voiced_before = pipe.voiced_frames
        events = pipe.feed(data, now)
        self.frames += 1
        if pipe.detector.speaking:
            if pipe.mode == "server_vad" and not self._endpoint_wake.is_set():
                self._endpoint_wake.set()
            self._check_barge_in(now, pipe.voiced_frames - voiced_before)
        if events:
            self.on_turn_events(events)
        if self.pipe is pipe:
            self.partials.on_frame(pipe, self._utt_id, now=now,
                                   listening=self._utt_barged or not self._utt_in_response)

    def commit(self) -> None:
        self.on_turn_events(self.pipe.commit(self._now()))
        self.partials.new_utterance(self.pipe)

    def clear(self) -> None:
        self.on_turn_events(self.pipe.clear(self._now()))
        self.partials.new_utterance(self.pipe)

    def reconfigure(self, voice_detector: VoiceDetector | None) -> None:
        """A new pipeline for new input settings (what was buffered is discarded, as by a clear)."""
        s = self.host.settings
        self.clear()
        self.pipe = InputPipeline(s.input_rate_hz, s.vad, s.turn_mode, voice_detector=voice_detector,
                                  punctuated=self.host.speech.punctuates)
        self.partials.new_utterance(self.pipe)
        self._endpoint_wake.set()

    async def endpointer(self) -> None:
        """End a turn when audio stops arriving mid-turn (``deadline()``/``on_timer``)."""
        loop = asyncio.get_running_loop()
        wake = self._endpoint_wake
        while True:
            wake.clear()
            deadline = self.pipe.deadline()
            if deadline is None:
                await wake.wait()
                continue
            now = loop.time()
            if now < deadline:
                # Frames move the deadline later; sleeping to the old one and re-checking is enough.
                await asyncio.sleep(deadline - now)
                continue
            self.on_turn_events(self.pipe.on_timer(now))

    def on_turn_events(self, events: list[TurnEvent]) -> None:
        host, pipe = self.host, self.pipe
        for ev in events:
            if isinstance(ev, SpeechStarted):
                resp = host.response
                self._utt_in_response = resp is not None and not resp.done
                self._utt_barge_ms = 0
                self._utt_barged = False
                if pipe.mode == "server_vad":
                    self.partials.new_utterance(pipe, voiced_ms_before=host.settings.vad.min_speech_ms)
                host.emit(E.UserSpeechStarted(self._utt_id, ev.audio_start_ms))
            elif isinstance(ev, SpeechStopped):
                host.emit(E.UserSpeechStopped(self._utt_id, ev.audio_end_ms))
            elif isinstance(ev, UtteranceDiscarded):
                host.emit(E.UtteranceDiscarded(ev.reason))
            elif isinstance(ev, UtteranceReady):
                utt_id, self._utt_id = self._utt_id, ids.new_id("utt")
                spec = self.partials.final_for(pipe) if ev.reason != "max_duration" else None
                s = host.settings
                ignored = (pipe.mode == "server_vad" and self._utt_in_response and not self._utt_barged
                           and (not s.barge_in or self._utt_barge_ms < s.barge_in_min_ms))
                self._utt_in_response = False
                if ignored:  # a cough or backchannel over the agent: not a turn
                    host.emit(E.UtteranceIgnored(utt_id))
                    continue
                if ev.reason == "commit":
                    # The client ended the turn (push-to-talk release): no endpointing, and the time the key
                    # was held after the last word is the user's, not the pipeline's.
                    clock = TurnClock(speech_end=ev.ended_at, turn_detected=ev.ended_at,
                                      voice_end=min(pipe.last_voiced_at, ev.ended_at))
                else:
                    clock = TurnClock(speech_end=min(pipe.last_voiced_at, ev.ended_at), turn_detected=ev.ended_at)
                host.emit(E.UtteranceCommitted(utt_id, pcm16_ms(len(ev.pcm), ev.sample_rate_hz)))
                try:
                    self._utterances.put_nowait(_Utterance(utt_id, ev.pcm, ev.sample_rate_hz, clock, spec))
                    self._settled.clear()
                except asyncio.QueueFull:
                    host.error(ProtocolViolation("too many utterances waiting for transcription; one dropped",
                                                 code="stt_overloaded"), utterance_id=utt_id)

    def _check_barge_in(self, now: float, voiced_frames: int) -> None:
        """Count strongly voiced audio of an utterance that started over the agent; cut the agent at the limit."""
        pipe = self.pipe
        if not self._utt_in_response or self._utt_barged or pipe.mode != "server_vad":
            return
        s = self.host.settings
        resp = self.host.response
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
        if s.barge_in and resp is not None and not resp.done and self._utt_barge_ms >= s.barge_in_min_ms:
            self._utt_barged = True
            self.host.barge_in(resp.id)

    async def _safe_transcribe(self, pcm: bytes) -> Result:
        try:
            return await self.host.speech.transcribe(pcm, 16000)
        except VoiceLettaError as exc:
            return exc
        except Exception:  # a bug in an engine must not end the session: report it in-band
            log.exception("speech-to-text failed")
            return VoiceLettaError("speech recognition failed", code="stt_failed")

    async def settled(self) -> None:
        """Wait until every committed utterance has been transcribed and handed on (or dropped)."""
        await self._settled.wait()

    # -- the transcriber task -----------------------------------------------------------------------------
    async def transcriber(self) -> None:
        while True:
            utt = await self._utterances.get()
            try:
                await self._transcribe(utt)
            finally:
                if self._utterances.empty():
                    self._settled.set()

    async def _transcribe(self, utt: _Utterance) -> None:
        loop = asyncio.get_running_loop()
        host = self.host
        result: Result = None
        if utt.speculative is not None:
            with contextlib.suppress(asyncio.CancelledError):
                result = await utt.speculative
            if isinstance(result, BaseException):
                result = None
        if result is None:
            result = await self._safe_transcribe(utt.pcm)
        if isinstance(result, VoiceLettaError):
            host.error(result, utterance_id=utt.id)
            return
        assert isinstance(result, Transcript)
        now = loop.time()
        utt.clock.stamp("transcript", now)
        text = result.text.strip()
        if not text:
            host.emit(E.TranscriptEmpty(utt.id))  # noise that the VAD let through: no turn
            return
        audio_ms = pcm16_ms(len(utt.pcm), utt.sample_rate_hz)
        stt_ms = (now - utt.clock.turn_detected) * 1000.0 if utt.clock.turn_detected else result.processing_ms
        host.emit(E.Transcribed(text, round(audio_ms, 1), round(stt_ms, 1), utterance_id=utt.id))
        await host.user_turn(text, utt.clock, utt.id)
