"""Turn-taking: per-frame VAD decisions -> speech start/stop and whole utterances. Sans-I/O.

The driver frames audio (``Framer``), scores each frame (``VadGate``) and calls
``TurnDetector.feed(is_speech, frame, now)``; the detector answers with typed events. Durations are
counted in **audio time** (frames fed), so results do not depend on how fast frames arrive; ``now`` only
stamps events and drives ``deadline()``/``on_timer(now)``, which end a turn when audio stops arriving.

Rules (``VadParams``, defaults in brackets):

- **Start** [``min_speech_ms`` 200]: a turn starts once the voiced frames inside the start window (the last
  ``2 * min_speech_ms`` of audio) add up to ``min_speech_ms``. A lone 60 ms click never starts a turn,
  and ordinary speech with short unvoiced gaps does. ``audio_start_ms`` is the start of the first voiced
  frame in that window.
- **Prefix padding** [``prefix_padding_ms`` 300]: the utterance audio begins this much before
  ``audio_start_ms`` (as far as audio exists), so the first syllable is never clipped.
- **End** [``silence_ms`` 600]: a turn ends after this much consecutive unvoiced audio. The utterance audio
  then runs to the end of the last voiced frame plus the same padding (at most ``prefix_padding_ms`` of the
  trailing silence). If no audio arrives at all, ``on_timer(now)`` ends it at ``deadline()`` = the wall time
  of the last frame + the silence still missing + one frame of grace (reason ``"timeout"``).
- **End on words** [``end_of_turn`` "words"; ``min_silence_ms`` 400, ``max_silence_ms`` 1500]: the driver
  hands over transcripts of the open turn (``on_transcript``); ``core.eot.EndOfTurnPolicy`` turns the words
  into the pause that ends this turn: longer after an unfinished phrase ("my sister is…"), shorter after a
  complete question. It holds only while no voiced frame arrived after the transcript's audio; if the pause
  is already long enough the turn ends at once (reason ``"words"``). ``end_of_turn: "silence"`` turns it off.
- **Force end** [``max_utterance_ms`` 30000]: an utterance whose buffered audio reaches this length ends
  at once (reason ``"max_duration"``); if the user keeps talking a new turn starts seamlessly.
- **Energy gate** [``min_volume_dbfs`` -50] and ``aggressiveness`` [2], ``threshold`` [0.5] configure the
  ``VadGate`` that produces ``is_speech``; the detector itself only sees booleans.

Modes (``TurnMode``):

- ``"server_vad"``: the rules above; ``commit(now)`` ends a turn early (reason ``"commit"``).
- ``"push_to_talk"``: VAD events are still reported, but only ``commit(now)`` ends a turn. The utterance is
  all audio since the last commit/clear. A commit with no voiced frame is discarded (``"no_speech"``), one
  with less than ``min_speech_ms`` of audio as ``"too_short"``; ``max_utterance_ms`` forces a commit.
- ``"text"``: audio is ignored.

``clear(now)`` drops buffered audio in any mode; ``interim_pcm()`` returns the utterance so far.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from voice_letta.core.audio import VALID_FRAME_MS, pcm16_ms
from voice_letta.core.eot import EndOfTurnPolicy
from voice_letta.errors import ProtocolViolation

TurnMode = Literal["server_vad", "push_to_talk", "text"]
EndReason = Literal["silence", "words", "timeout", "max_duration", "commit"]
EndOfTurnMode = Literal["silence", "words"]
DiscardReason = Literal["too_short", "no_speech", "cleared"]


class VadParams(BaseModel):
    """Voice activity and end-of-turn parameters (validated; the defaults are the product defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    aggressiveness: int = Field(default=2, ge=0, le=3, description="webrtcvad mode: 0 permissive .. 3 strict")
    min_speech_ms: int = Field(default=200, ge=0, le=5_000, description="voiced audio needed to start a turn")
    silence_ms: int = Field(default=600, ge=100, le=10_000, description="unvoiced audio that ends a turn")
    prefix_padding_ms: int = Field(default=300, ge=0, le=2_000, description="audio kept before speech start")
    max_utterance_ms: int = Field(default=30_000, ge=1_000, le=300_000, description="force-end an utterance")
    min_volume_dbfs: float = Field(default=-50.0, ge=-120.0, le=0.0, description="RMS below this is never speech")
    threshold: float = Field(default=0.5, ge=0.0, le=1.0, description="speech score threshold (Silero)")
    end_of_turn: EndOfTurnMode = Field(default="words", description="'words': the pause that ends a turn "
                                       "depends on the transcript so far; 'silence': always silence_ms")
    min_silence_ms: int = Field(default=400, ge=100, le=10_000, description="pause after a complete question")
    max_silence_ms: int = Field(default=1500, ge=100, le=10_000, description="pause after an unfinished phrase")

    @model_validator(mode="after")
    def _check_consistent(self) -> VadParams:
        if self.max_utterance_ms <= self.min_speech_ms:
            raise ValueError("max_utterance_ms must exceed min_speech_ms")
        if self.min_silence_ms > self.max_silence_ms:  # a question's pause would outlast an unfinished phrase's
            raise ValueError(f"min_silence_ms {self.min_silence_ms} exceeds max_silence_ms {self.max_silence_ms}")
        return self


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    at: float  # ``now`` when the start was detected
    audio_start_ms: int  # stream position of the first voiced frame


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    at: float
    audio_end_ms: int  # stream position of the end of the last voiced frame


@dataclass(frozen=True, slots=True)
class UtteranceReady:
    pcm: bytes = field(repr=False)  # PCM16 mono at sample_rate_hz, prefix padding included
    started_at: float  # ``now`` of the SpeechStarted (or of the first frame, push-to-talk)
    ended_at: float  # ``now`` when the turn ended
    audio_start_ms: int  # stream position of pcm[0]
    sample_rate_hz: int
    reason: EndReason

    @property
    def duration_ms(self) -> float:
        return pcm16_ms(len(self.pcm), self.sample_rate_hz)


@dataclass(frozen=True, slots=True)
class UtteranceDiscarded:
    at: float
    reason: DiscardReason


TurnEvent = SpeechStarted | SpeechStopped | UtteranceReady | UtteranceDiscarded


class TurnDetector:
    """The turn state machine; see the module docstring for the rules. One per audio input stream."""

    def __init__(
        self,
        params: VadParams | None = None,
        *,
        sample_rate_hz: int = 16000,
        frame_ms: int = 20,
        mode: TurnMode = "server_vad",
        punctuated: bool = True,
    ) -> None:
        if frame_ms not in VALID_FRAME_MS:
            raise ProtocolViolation(f"frame_ms must be 10, 20 or 30, got {frame_ms}")
        if sample_rate_hz <= 0 or sample_rate_hz * frame_ms % 1000:
            raise ProtocolViolation(f"unsupported sample rate {sample_rate_hz} Hz")
        self._p = params or VadParams()
        self._rate = sample_rate_hz
        self._frame_ms = frame_ms
        self._frame_bytes = sample_rate_hz * frame_ms // 1000 * 2
        self._mode: TurnMode = mode
        p = self._p
        self._min_speech_frames = max(1, math.ceil(p.min_speech_ms / frame_ms))
        self._window_frames = max(self._min_speech_frames, math.ceil(2 * p.min_speech_ms / frame_ms))
        self._pad_frames = math.ceil(p.prefix_padding_ms / frame_ms)
        self._max_frames = max(1, p.max_utterance_ms // frame_ms)
        self._policy = EndOfTurnPolicy(p.min_silence_ms, p.max_silence_ms, punctuated)
        self._end_silence_ms = p.silence_ms  # the pause that ends the open turn (set by on_transcript)
        # Idle look-back: (start_ms, frame, voiced), long enough for the start window plus the padding.
        self._ring: deque[tuple[int, bytes, bool]] = deque(maxlen=self._window_frames + self._pad_frames)
        self._window: deque[bool] = deque(maxlen=self._window_frames)
        self._voiced_in_window = 0
        self._pos_ms = 0  # audio fed so far
        self._last_now = 0.0
        self._vad_active = False  # VAD-level speech (SpeechStarted sent, SpeechStopped not yet)
        self._vad_started_at = 0.0
        self._trailing_silence_ms = 0
        self._last_voiced_end_ms = 0
        self._last_frame_at = 0.0
        # The utterance being collected.
        self._utt: list[bytes] = []
        self._utt_start_ms = 0
        self._utt_started_at = 0.0
        self._utt_voiced_ms = 0

    # -- introspection ----------------------------------------------------------------------------------
    @property
    def params(self) -> VadParams:
        return self._p

    @property
    def mode(self) -> TurnMode:
        return self._mode

    @property
    def speaking(self) -> bool:
        """True between SpeechStarted and SpeechStopped."""
        return self._vad_active

    @property
    def position_ms(self) -> int:
        """Audio fed so far, in ms (the stream clock of ``audio_start_ms``/``audio_end_ms``)."""
        return self._pos_ms

    @property
    def frame_ms(self) -> int:
        return self._frame_ms

    @property
    def sample_rate_hz(self) -> int:
        return self._rate

    @property
    def last_voiced_end_ms(self) -> int:
        """Stream position of the end of the newest voiced frame of the open turn (see ``on_transcript``)."""
        return self._last_voiced_end_ms

    @property
    def end_silence_ms(self) -> int:
        """The pause that will end the open turn (``silence_ms`` unless a transcript changed it)."""
        return self._end_silence_ms

    def interim_pcm(self) -> bytes:
        """The utterance audio collected so far (empty when no turn is open)."""
        return b"".join(self._utt)

    # -- input ------------------------------------------------------------------------------------------
    def feed(self, is_speech: bool, frame: bytes, now: float) -> list[TurnEvent]:
        """Consume one frame and its VAD decision; ``now`` is the caller's clock in seconds."""
        if len(frame) != self._frame_bytes:
            raise ProtocolViolation(
                f"turn detector frames must be {self._frame_ms} ms ({self._frame_bytes} bytes), got {len(frame)}"
            )
        self._last_now = now
        if self._mode == "text":
            self._pos_ms += self._frame_ms
            return []
        start_ms = self._pos_ms
        self._pos_ms += self._frame_ms
        self._last_frame_at = now
        events: list[TurnEvent] = []
        if self._mode == "push_to_talk":
            if not self._utt:
                self._utt_start_ms, self._utt_started_at = start_ms, now
            self._utt.append(frame)
            if is_speech:
                self._utt_voiced_ms += self._frame_ms
        if not self._vad_active:
            self._feed_idle(is_speech, start_ms, frame, now, events)
        else:
            self._feed_active(is_speech, frame, now, events)
        if self._mode == "push_to_talk" and len(self._utt) >= self._max_frames:
            events.extend(self._commit(now, "max_duration"))
        return events

    def _feed_idle(self, voiced: bool, start_ms: int, frame: bytes, now: float, events: list[TurnEvent]) -> None:
        self._ring.append((start_ms, frame, voiced))
        if len(self._window) == self._window.maxlen and self._window[0]:
            self._voiced_in_window -= 1
        self._window.append(voiced)
        self._voiced_in_window += voiced
        if self._voiced_in_window < self._min_speech_frames:
            return
        ring = list(self._ring)
        in_window = ring[-len(self._window) :]
        audio_start_ms = next(s for s, _, v in in_window if v)
        pad_from_ms = audio_start_ms - self._p.prefix_padding_ms
        self._vad_active = True
        self._vad_started_at = now
        self._trailing_silence_ms = 0
        self._last_voiced_end_ms = self._pos_ms if voiced else start_ms
        self._reset_start_window()
        events.append(SpeechStarted(at=now, audio_start_ms=audio_start_ms))
        if self._mode == "server_vad":
            kept = [(s, f, v) for s, f, v in ring if s >= pad_from_ms]
            self._utt = [f for _, f, _ in kept]
            self._utt_start_ms = kept[0][0]
            self._utt_started_at = now
            self._utt_voiced_ms = sum(self._frame_ms for _, _, v in kept if v)

    def _feed_active(self, voiced: bool, frame: bytes, now: float, events: list[TurnEvent]) -> None:
        if self._mode == "server_vad":
            self._utt.append(frame)
        if voiced:
            self._trailing_silence_ms = 0
            self._last_voiced_end_ms = self._pos_ms
            self._end_silence_ms = self._p.silence_ms  # any transcript is stale now
            if self._mode == "server_vad":
                self._utt_voiced_ms += self._frame_ms
        else:
            self._trailing_silence_ms += self._frame_ms
        if self._trailing_silence_ms >= self._end_silence_ms:
            if self._mode == "server_vad":
                events.extend(self._end(now, "silence"))
            else:  # push_to_talk: report the pause, keep collecting until commit
                events.append(SpeechStopped(at=now, audio_end_ms=self._last_voiced_end_ms))
                self._vad_active = False
                self._trailing_silence_ms = 0
        elif self._mode == "server_vad" and len(self._utt) >= self._max_frames:
            events.extend(self._end(now, "max_duration"))

    # -- timers -----------------------------------------------------------------------------------------
    def deadline(self) -> float | None:
        """When ``on_timer`` should be called if no more audio arrives (server_vad, mid-turn), else None."""
        if self._mode != "server_vad" or not self._vad_active:
            return None
        missing_ms = self._end_silence_ms - self._trailing_silence_ms + self._frame_ms
        return self._last_frame_at + missing_ms / 1000.0

    def on_timer(self, now: float) -> list[TurnEvent]:
        """End the turn if audio stopped arriving and ``deadline()`` has passed."""
        self._last_now = max(self._last_now, now)
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return []
        return self._end(now, "timeout")

    def on_transcript(self, text: str, voiced_end_ms: int, now: float) -> list[TurnEvent]:
        """A transcript of the open turn's audio up to ``voiced_end_ms`` (``last_voiced_end_ms`` when the
        audio was taken). Sets the pause that ends the turn from the words; ends it now if already reached."""
        self._last_now = max(self._last_now, now)
        if (self._mode != "server_vad" or not self._vad_active or self._p.end_of_turn != "words"
                or voiced_end_ms != self._last_voiced_end_ms):
            return []
        self._end_silence_ms = self._policy.silence_ms(text, self._p.silence_ms)
        if self._trailing_silence_ms >= self._end_silence_ms:
            return self._end(now, "words")
        return []

    # -- intents ----------------------------------------------------------------------------------------
    def commit(self, now: float) -> list[TurnEvent]:
        """End the turn now (push-to-talk release, or an explicit commit in server_vad)."""
        self._last_now = now
        if self._mode == "server_vad":
            if not self._vad_active:
                return [UtteranceDiscarded(at=now, reason="no_speech")]
            return self._end(now, "commit")
        if self._mode == "push_to_talk":
            return self._commit(now, "commit")
        return []

    def clear(self, now: float | None = None) -> list[TurnEvent]:
        """Drop buffered audio and VAD state; reports SpeechStopped/UtteranceDiscarded when they applied."""
        at = self._last_now if now is None else now
        events: list[TurnEvent] = []
        if self._vad_active:
            events.append(SpeechStopped(at=at, audio_end_ms=self._last_voiced_end_ms))
        if self._utt or self._vad_active:
            events.append(UtteranceDiscarded(at=at, reason="cleared"))
        self._vad_active = False
        self._reset_utterance()
        self._reset_start_window()
        self._ring.clear()
        return events

    def set_mode(self, mode: TurnMode, now: float | None = None) -> list[TurnEvent]:
        """Switch turn mode; whatever was buffered is discarded (as by ``clear``)."""
        events = self.clear(now)
        self._mode = mode
        return events

    # -- internals --------------------------------------------------------------------------------------
    def _end(self, now: float, reason: EndReason) -> list[TurnEvent]:
        """server_vad end of turn: SpeechStopped + UtteranceReady, padded and trimmed."""
        audio_end_ms = self._last_voiced_end_ms
        events: list[TurnEvent] = [SpeechStopped(at=now, audio_end_ms=audio_end_ms)]
        tail_ms = min(self._p.prefix_padding_ms, self._trailing_silence_ms)
        keep = math.ceil((audio_end_ms + tail_ms - self._utt_start_ms) / self._frame_ms)
        pcm = b"".join(self._utt[: max(keep, 0)])
        events.append(
            UtteranceReady(
                pcm=pcm,
                started_at=self._utt_started_at,
                ended_at=now,
                audio_start_ms=self._utt_start_ms,
                sample_rate_hz=self._rate,
                reason=reason,
            )
        )
        self._vad_active = False
        self._reset_utterance()
        self._ring.clear()
        return events

    def _commit(self, now: float, reason: EndReason) -> list[TurnEvent]:
        """push_to_talk end of turn: all audio since the last commit/clear."""
        events: list[TurnEvent] = []
        if self._vad_active:
            events.append(SpeechStopped(at=now, audio_end_ms=self._last_voiced_end_ms))
            self._vad_active = False
            self._reset_start_window()
        if self._utt_voiced_ms == 0:
            events.append(UtteranceDiscarded(at=now, reason="no_speech"))
        elif len(self._utt) * self._frame_ms < self._p.min_speech_ms:
            events.append(UtteranceDiscarded(at=now, reason="too_short"))
        else:
            events.append(
                UtteranceReady(
                    pcm=b"".join(self._utt),
                    started_at=self._utt_started_at,
                    ended_at=now,
                    audio_start_ms=self._utt_start_ms,
                    sample_rate_hz=self._rate,
                    reason=reason,
                )
            )
        self._reset_utterance()
        return events

    def _reset_utterance(self) -> None:
        self._end_silence_ms = self._p.silence_ms
        self._utt = []
        self._utt_voiced_ms = 0
        self._trailing_silence_ms = 0

    def _reset_start_window(self) -> None:
        self._window.clear()
        self._voiced_in_window = 0
