"""Transcripts of the utterance that is still being spoken: live captions, end of turn on words, an early final.

The listener calls ``Partials.on_frame(now)`` after each binary frame. While a user utterance is open
(server VAD: a turn in progress that is not just speech over the agent; push-to-talk: anything voiced since
the last commit or clear), the growing audio (``TurnDetector.interim_pcm()``) is transcribed again:

- **captions**: after every ``interval_ms`` of the open utterance's audio since the previous caption was
  taken, provided something new was voiced (the pauses between words count: people hear time, not voiced
  frames; counting only voiced frames spaced captions ~780 ms of audio apart); when a transcription takes
  longer than ``SLOW_STT_MS`` (a busy machine), no sooner than twice its time after the previous one, so
  captions never take more than about half a core per speaker;
- **early final**: once the user has been silent for ``SPECULATE_AFTER_MS`` (server VAD, or push-to-talk with
  the key still down): that transcript covers every voiced frame, so the turn detector can end the turn on its
  words (``core.eot``) and, if nothing is voiced before the turn ends, it *is* the final transcript: the
  transcriber reuses it and speech-to-text costs nothing after the end of the turn.

At most one transcription per session is in flight; a caption is skipped rather than queued when every
inference worker is busy (``SpeechEngines.transcribe_partial``), so captions never delay anybody's final.
A transcript that arrives after the user went on talking is still shown (it is a caption of what was said
so far) but is stale for the end of turn. Each non-empty, changed text becomes a ``TranscriptPartial`` event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from voice_letta.agent.ports import Transcript
from voice_letta.core.turns import TurnEvent
from voice_letta.errors import VoiceLettaError
from voice_letta.session import events as E
from voice_letta.session.audio_in import FRAME_MS, InputPipeline
from voice_letta.session.settings import Settings
from voice_letta.session.speech import SpeechEngines

log = logging.getLogger(__name__)

SPECULATE_AFTER_MS = 240  # start the early final after this much trailing silence of an open turn
DEFAULT_INTERVAL_MS = 500  # a caption after every 500 ms of an open utterance's audio
SLOW_STT_MS = 250  # a transcription slower than this spaces captions at twice its time

Result = Transcript | BaseException | None  # None: skipped (the workers were busy)


class PartialsHost(Protocol):
    settings: Settings
    speech: SpeechEngines

    def emit(self, event: E.SessionEvent) -> None: ...

    def spawn(self, coro: Awaitable[Result]) -> asyncio.Task[Result]: ...


@dataclass(slots=True)
class _Job:
    task: asyncio.Task[Result]
    utterance_id: str
    voiced_frames: int  # InputPipeline.voiced_frames when the audio was taken
    voiced_end_ms: int  # TurnDetector.last_voiced_end_ms then
    audio_ms: float
    started_at: float
    final_guess: bool  # taken in a pause: full speech-to-text, never skipped
    covered_before: int  # what was covered before this job (restored if it is skipped)
    caption_frame_before: int  # where caption pacing counted from before this job (restored likewise)


class Partials:
    def __init__(self, host: PartialsHost, on_turn_events: Callable[[list[TurnEvent]], None]) -> None:
        self.host = host
        self._on_turn_events = on_turn_events
        self._job: _Job | None = None
        self._covered = 0  # voiced_frames of the newest transcribed audio of the open utterance
        self._caption_frame = 0  # InputPipeline.frames when the newest transcription's audio was taken
        self._last_stt_ms = 0.0
        self._last_text = ""
        self.spawned = 0  # transcriptions started (tests, benchmarks)


    def on_frame(self, pipe: InputPipeline, utterance_id: str, *, listening: bool, now: float) -> None:
        """After each binary frame; ``listening``: the open utterance may become a turn (not over the agent)."""
        s, det = self.host.settings, pipe.detector
        if not listening or self.host.speech.stt is None or det.mode == "text":
            return
        if self._job is not None and not self._job.task.done():
            return
        new_ms = (pipe.voiced_frames - self._covered) * FRAME_MS
        if new_ms <= 0:
            return
        if not det.speaking:  # server VAD: no turn open; push-to-talk: the key is down but nobody speaks
            return
        final_guess = s.speculative_stt and pipe.trailing_silence_ms >= SPECULATE_AFTER_MS and (
            det.mode == "push_to_talk" or s.vad.end_of_turn == "words" or s.vad.silence_ms >= SPECULATE_AFTER_MS + 100)
        # every interval of speech; when transcription itself is slow (a busy machine), twice its time apart
        slow = 2 * self._last_stt_ms if self._last_stt_ms > SLOW_STT_MS else 0
        audio_ms = (pipe.frames - self._caption_frame) * FRAME_MS
        caption = (s.partial_transcripts and self.host.speech.partials
                   and audio_ms >= max(s.partial_interval_ms, slow))
        if not (final_guess or caption):
            return
        pcm = det.interim_pcm()
        job = _Job(task=self.host.spawn(self._transcribe(pcm, final_guess)), utterance_id=utterance_id,
                   voiced_frames=pipe.voiced_frames, voiced_end_ms=det.last_voiced_end_ms,
                   audio_ms=len(pcm) / 2 * 1000.0 / det.sample_rate_hz, started_at=now, final_guess=final_guess,
                   covered_before=self._covered, caption_frame_before=self._caption_frame)
        self._job = job
        self._covered = pipe.voiced_frames
        self._caption_frame = pipe.frames
        self.spawned += 1
        job.task.add_done_callback(lambda task: self._done(job, pipe))

    def new_utterance(self, pipe: InputPipeline, *, voiced_ms_before: int = 0) -> None:
        """A new utterance opens (``voiced_ms_before``: its speech already counted): captions count from there."""
        self._job = None
        self._covered = max(0, pipe.voiced_frames - voiced_ms_before // FRAME_MS)
        self._caption_frame = max(0, pipe.frames - voiced_ms_before // FRAME_MS)
        self._last_text = ""

    def final_for(self, pipe: InputPipeline) -> asyncio.Task[Result] | None:
        """A transcription (running or done) that covers every voiced frame of the utterance that just ended."""
        job, self._job = self._job, None
        self._last_text = ""
        self._covered = pipe.voiced_frames
        if job is None or job.voiced_frames != pipe.voiced_frames:
            return None
        return job.task

    async def _transcribe(self, pcm: bytes, final_guess: bool) -> Result:
        try:
            if final_guess:
                return await self.host.speech.transcribe(pcm, 16000)
            return await self.host.speech.transcribe_partial(pcm, 16000)
        except VoiceLettaError as exc:
            return exc
        except Exception as exc:  # a bug in an engine: no caption, and the final is tried again
            log.exception("speech-to-text of an open utterance failed")
            return exc

    def _done(self, job: _Job, pipe: InputPipeline) -> None:
        if job.task.cancelled():
            return
        result = job.task.result()
        if not isinstance(result, Transcript):
            if result is None and self._job is job:
                # skipped: the next frame may try again
                self._covered, self._caption_frame = job.covered_before, job.caption_frame_before
            return
        self._last_stt_ms = result.processing_ms
        if self._job is not job:
            return  # the utterance ended meanwhile; the transcriber has (or had no use for) it
        text = result.text.strip()
        if text and text != self._last_text and self.host.settings.partial_transcripts:
            self._last_text = text
            self.host.emit(E.TranscriptPartial(job.utterance_id, text, round(job.audio_ms, 1),
                                               round(result.processing_ms, 1)))
        loop_now = asyncio.get_running_loop().time()
        events = pipe.detector.on_transcript(text, job.voiced_end_ms, loop_now) if text else []
        if events:
            self._on_turn_events(events)
