"""PlayoutLedger: which part of a spoken response the listener actually heard. Sans-I/O.

One ledger per response. The server records every text segment it synthesized and how much audio it
produced (``add_segment(text, audio_ms)``); playback progress comes either from the client
(``on_played(ms)``: the cumulative playback position of this response) or from Twilio marks
(``mark_sent(name, cumulative_ms)`` when a mark follows audio up to ``cumulative_ms``, ``on_mark(name)``
when Twilio echoes it). ``heard_ms`` is the furthest confirmed position, capped at the audio synthesized.

**Heard-text rule.** Segments are laid end to end on the audio timeline. ``heard_text()`` is

1. every segment whose audio ended at or before ``heard_ms``, in full, then
2. for the one segment being played, the words whose end falls inside the played fraction of that
   segment's characters: with ``f = (heard_ms - segment_start_ms) / segment_audio_ms`` a word is heard when
   its last character lies within the first ``f`` of the segment's text (first to last non-space
   character). Speech time is taken as proportional to characters, the cut is never inside a word, and a
   segment played for less than its first word contributes nothing;
3. joined as the segments were given (a space is inserted only when two segments would otherwise run
   together), right-stripped. If the segments are consecutive slices of the reply, the result is a prefix
   of the reply.

Twilio echoes every pending mark when it receives ``clear``, whether the audio played or not; call
``clear_sent()`` when sending ``clear`` and later echoes are ignored (an echo still in flight is lost too,
so the ledger errs towards "heard less").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class PlayoutSegment:
    text: str
    start_ms: float  # position of the segment's first audio in the response
    audio_ms: float

    @property
    def end_ms(self) -> float:
        return self.start_ms + self.audio_ms


def _heard_prefix(text: str, fraction: float) -> str:
    """The words of ``text`` whose end lies within ``fraction`` of its characters (never mid-word)."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    if not words or fraction <= 0.0:
        return ""
    first, last = words[0][0], words[-1][1]
    limit = first + fraction * (last - first)
    cut = 0
    for _, end in words:
        if end > limit + 1e-9:
            break
        cut = end
    return text[:cut]


def _join(parts: list[str]) -> str:
    out = ""
    for part in parts:
        if out and part and not out[-1].isspace() and not part[0].isspace():
            out += " "
        out += part
    return out


class PlayoutLedger:
    """Segments synthesized for one response vs. audio confirmed played; see the module docstring."""

    __slots__ = ("_cleared", "_heard_ms", "_marks", "_segments", "_synth_ms")

    def __init__(self) -> None:
        self._segments: list[PlayoutSegment] = []
        self._synth_ms = 0.0
        self._heard_ms = 0.0
        self._marks: dict[str, float] = {}
        self._cleared = False

    # -- what was sent ----------------------------------------------------------------------------------
    def add_segment(self, text: str, audio_ms: float) -> PlayoutSegment:
        if audio_ms < 0:
            raise ValueError(f"audio_ms must be >= 0, got {audio_ms}")
        seg = PlayoutSegment(text=text, start_ms=self._synth_ms, audio_ms=audio_ms)
        self._segments.append(seg)
        self._synth_ms += audio_ms
        return seg

    def mark_sent(self, name: str, cumulative_ms: float) -> None:
        """A Twilio mark ``name`` was sent after audio up to ``cumulative_ms`` of this response."""
        self._marks[name] = cumulative_ms

    def clear_sent(self) -> None:
        """Playback was cleared (Twilio ``clear``): mark echoes from now on do not mean 'played'."""
        self._cleared = True

    # -- what was heard ---------------------------------------------------------------------------------
    def on_played(self, ms: float) -> None:
        """The client reports its cumulative playback position (ms) in this response."""
        self._heard_ms = max(self._heard_ms, min(ms, self._synth_ms))

    def on_mark(self, name: str) -> bool:
        """A mark echo arrived; returns False for unknown marks and echoes after ``clear_sent()``."""
        position = self._marks.pop(name, None)
        if position is None or self._cleared:
            return False
        self.on_played(position)
        return True

    @property
    def heard_ms(self) -> float:
        return self._heard_ms

    @property
    def synthesized_ms(self) -> float:
        return self._synth_ms

    @property
    def segments(self) -> tuple[PlayoutSegment, ...]:
        return tuple(self._segments)

    @property
    def fully_heard(self) -> bool:
        return self._heard_ms >= self._synth_ms

    @property
    def text(self) -> str:
        """The whole response text as synthesized."""
        return _join([s.text for s in self._segments]).rstrip()

    def heard_text(self) -> str:
        return self.heard_text_at(self._heard_ms)

    def heard_text_at(self, heard: float) -> str:
        """The heard-text rule at a given playback position (a client's own report, which may be lower)."""
        heard = max(0.0, min(heard, self._synth_ms))
        parts: list[str] = []
        for seg in self._segments:
            if seg.end_ms <= heard and heard > 0:
                parts.append(seg.text)
                continue
            if seg.audio_ms > 0 and heard > seg.start_ms:
                parts.append(_heard_prefix(seg.text, (heard - seg.start_ms) / seg.audio_ms))
            break
        return _join(parts).rstrip()
