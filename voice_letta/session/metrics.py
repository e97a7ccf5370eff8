"""Per-turn latency stamps of the voice path and their export.

A ``TurnClock`` collects wall-clock stamps (``loop.time()`` seconds) of one response:

    speech_end      end of the last voiced frame of the user's utterance (audio turns)
    turn_detected   the turn detector closed the utterance (speech_end + silence_ms, roughly)
    transcript      STT returned (for text turns: the input_text arrived)
    first_token     the agent produced its first event after the LLM request (first content or tool delta)
    first_content   first speakable text (content or filler)
    first_audio     first audio frame written to the socket
    voice_end       end of the last voiced frame when the client ended the turn itself (push-to-talk:
                    speech_end is then the key release, and voice_end → speech_end is the key held after speaking)

``timings_ms()`` gives the stage durations sent in ``response.done``; ``export()`` observes them as
histograms. The names are the Prometheus metric names (seconds).

``FRAME_DELAYS`` is a process-wide, fine-grained (0.05 ms steps) histogram of the per-frame delay, cheap
enough to update for every frame; ``/metrics`` has the same values with the server's coarser buckets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

SESSIONS_ACTIVE = "voice_letta_sessions_active"
SESSIONS_TOTAL = "voice_letta_sessions_total"
ERRORS_TOTAL = "voice_letta_voice_errors_total"
BARGE_INS_TOTAL = "voice_letta_barge_ins_total"
TURNS_TOTAL = "voice_letta_voice_turns_total"
#: How long an arriving binary audio frame takes from the reader receiving it to the pipeline having
#: processed it (resample, frame, VAD, turn detection, barge-in, events sent); observed for every frame.
FRAME_DELAY_SECONDS = "voice_letta_audio_frame_delay_seconds"

# (name in timings_ms, histogram, start stamp, end stamp)
STAGES: tuple[tuple[str, str, str, str], ...] = (
    ("endpointing_ms", "voice_letta_voice_endpointing_seconds", "speech_end", "turn_detected"),
    ("stt_ms", "voice_letta_voice_stt_seconds", "turn_detected", "transcript"),
    ("first_token_ms", "voice_letta_voice_first_token_seconds", "transcript", "first_token"),
    ("first_content_ms", "voice_letta_voice_first_content_seconds", "transcript", "first_content"),
    ("tts_first_audio_ms", "voice_letta_voice_tts_first_audio_seconds", "first_content", "first_audio"),
    ("transcript_to_audio_ms", "voice_letta_voice_transcript_to_audio_seconds", "transcript", "first_audio"),
    ("voice_to_voice_ms", "voice_letta_voice_to_voice_seconds", "speech_end", "first_audio"),
    ("key_hold_ms", "voice_letta_voice_key_hold_seconds", "voice_end", "speech_end"),
)


class DelayHistogram:
    """Fixed-width buckets of ``step_s`` up to ``max_s`` (and one overflow bucket); O(1) observe."""

    __slots__ = ("_inv_step", "_last", "counts", "max_s", "n", "step_s", "total_s")

    def __init__(self, step_s: float = 0.00005, max_s: float = 1.0) -> None:
        self.step_s = step_s
        self.max_s = max_s
        self._inv_step = 1.0 / step_s
        self._last = int(max_s / step_s)
        self.counts = [0] * (self._last + 1)
        self.n = 0
        self.total_s = 0.0

    def observe(self, seconds: float) -> None:
        i = int(seconds * self._inv_step)
        self.counts[i if i < self._last else self._last] += 1
        self.n += 1
        self.total_s += seconds

    def percentile(self, p: float) -> float:
        """Upper edge of the bucket holding the p-th percentile, in seconds (nan when empty)."""
        if self.n == 0:
            return float("nan")
        rank = max(1, round(p / 100.0 * self.n))
        seen = 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= rank:
                return (i + 1) * self.step_s
        return self.max_s

    def reset(self) -> None:
        self.counts = [0] * (self._last + 1)
        self.n = 0
        self.total_s = 0.0


FRAME_DELAYS = DelayHistogram()


class MetricsSink(Protocol):
    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None: ...
    def gauge_add(self, name: str, amount: float) -> None: ...
    def observe(self, name: str, seconds: float) -> None: ...


@dataclass
class TurnClock:
    speech_end: float | None = None
    turn_detected: float | None = None
    transcript: float | None = None
    first_token: float | None = None
    first_content: float | None = None
    first_audio: float | None = None
    voice_end: float | None = None

    def stamp(self, name: str, at: float) -> None:
        if getattr(self, name) is None:
            setattr(self, name, at)

    def timings_ms(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, _hist, start, end in STAGES:
            a, b = getattr(self, start), getattr(self, end)
            if a is not None and b is not None:
                out[key] = round(max(0.0, b - a) * 1000.0, 1)
        return out

    def export(self, metrics: MetricsSink) -> None:
        for _key, hist, start, end in STAGES:
            a, b = getattr(self, start), getattr(self, end)
            if a is not None and b is not None:
                metrics.observe(hist, max(0.0, b - a))


class NullMetrics:
    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        pass

    def gauge_add(self, name: str, amount: float) -> None:
        pass

    def observe(self, name: str, seconds: float) -> None:
        pass
