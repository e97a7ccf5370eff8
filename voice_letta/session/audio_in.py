"""The inbound audio pipeline of one session, synchronous: client PCM16 → 16 kHz → 20 ms frames → VAD → turns.

``InputPipeline.feed(pcm, now) -> list[TurnEvent]`` does all the per-frame work with no I/O; the session's
listener task drives it and owns the timer (``deadline()``/``on_timer(now)``). ``last_voiced_at`` is the
``now`` of the newest voiced frame (the end-of-speech stamp), and ``trailing_silence_ms`` counts unvoiced
frames since the last voiced one while a turn is open (used to start transcribing early).
"""

from __future__ import annotations

from voice_letta.config import PIPELINE_RATE_HZ
from voice_letta.core.framer import Framer
from voice_letta.core.resample import StreamResampler
from voice_letta.core.turns import TurnDetector, TurnEvent, TurnMode, VadParams
from voice_letta.core.vad import VadGate, VoiceDetector

FRAME_MS = 20


class InputPipeline:
    __slots__ = (
        "detector",
        "frame_bytes",
        "framer",
        "frames",
        "gate",
        "in_rate_hz",
        "last_voiced_at",
        "passthrough",
        "resampler",
        "trailing_silence_ms",
        "voiced_frames",
    )

    def __init__(
        self,
        in_rate_hz: int,
        params: VadParams,
        mode: TurnMode,
        *,
        voice_detector: VoiceDetector | None = None,
        punctuated: bool = True,
    ) -> None:
        self.in_rate_hz = in_rate_hz
        self.resampler = StreamResampler(in_rate_hz, PIPELINE_RATE_HZ, quality="MQ")
        self.passthrough = self.resampler.passthrough
        self.framer = Framer(PIPELINE_RATE_HZ, FRAME_MS)
        self.frame_bytes = self.framer.frame_bytes
        self.gate = VadGate.from_params(params, sample_rate_hz=PIPELINE_RATE_HZ, frame_ms=FRAME_MS,
                                        detector=voice_detector)
        self.detector = TurnDetector(params, sample_rate_hz=PIPELINE_RATE_HZ, frame_ms=FRAME_MS, mode=mode,
                                     punctuated=punctuated)
        self.last_voiced_at = 0.0
        self.trailing_silence_ms = 0
        self.voiced_frames = 0  # grows forever: "has anything been voiced since X?"
        self.frames = 0  # every 20 ms frame fed, voiced or not (grows forever): audio time for caption pacing

    @property
    def mode(self) -> TurnMode:
        return self.detector.mode

    def feed(self, pcm: bytes, now: float) -> list[TurnEvent]:
        """One client chunk (even length, any size) → the turn events it caused.

        Fast paths for the common case (16 kHz input in exact 20 ms chunks): no resampler round trip through
        numpy when the rates match, and no re-framing copy when the chunk is already one whole frame.
        """
        events: list[TurnEvent] = []
        if not self.passthrough:
            pcm = self.resampler.feed(pcm)
        elif len(pcm) & 1:
            pcm = self.resampler.feed(pcm)  # raises ProtocolViolation for the odd length
        framer = self.framer
        frames = (pcm,) if len(pcm) == self.frame_bytes and not framer.pending_bytes else framer.feed(pcm)
        detector, gate = self.detector, self.gate
        self.frames += len(frames)
        for frame in frames:
            voiced = gate.is_speech(frame)
            if voiced:
                self.last_voiced_at = now
                self.voiced_frames += 1
                self.trailing_silence_ms = 0
            elif detector.speaking:
                self.trailing_silence_ms += FRAME_MS
            events.extend(detector.feed(voiced, frame, now))
        return events

    def deadline(self) -> float | None:
        return self.detector.deadline()

    def on_timer(self, now: float) -> list[TurnEvent]:
        return self.detector.on_timer(now)

    def commit(self, now: float) -> list[TurnEvent]:
        return self.detector.commit(now)

    def clear(self, now: float) -> list[TurnEvent]:
        self.framer.reset()
        self.resampler.reset()
        self.trailing_silence_ms = 0
        return self.detector.clear(now)
