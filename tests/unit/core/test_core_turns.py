from __future__ import annotations

import pytest
from pydantic import ValidationError

from voice_letta.core.turns import (
    SpeechStarted,
    SpeechStopped,
    TurnDetector,
    TurnEvent,
    UtteranceDiscarded,
    UtteranceReady,
    VadParams,
)
from voice_letta.errors import ProtocolViolation

FRAME_MS = 20
FRAME_BYTES = 640  # 20 ms at 16 kHz


def frame(i: int) -> bytes:
    """Frame number ``i``: two bytes of the index repeated, so tests can tell frames apart."""
    return (i % 65536).to_bytes(2, "little") * (FRAME_BYTES // 2)


def index_of(frame_bytes: bytes) -> int:
    return int.from_bytes(frame_bytes[:2], "little")


class Clocked:
    """Feeds frames with ``now`` advancing 20 ms per frame: no sleeps, microseconds per test."""

    def __init__(self, det: TurnDetector, t0: float = 100.0) -> None:
        self.det, self.t0, self.i = det, t0, 0

    @property
    def now(self) -> float:
        return self.t0 + self.i * FRAME_MS / 1000

    def run(self, pattern: str) -> list[TurnEvent]:
        """``pattern``: one char per frame, 'x' voiced, '.' unvoiced."""
        events: list[TurnEvent] = []
        for ch in pattern:
            self.i += 1
            events += self.det.feed(ch == "x", frame(self.i - 1), self.now)
        return events


def only(events: list[TurnEvent], kind: type) -> list[TurnEvent]:
    return [e for e in events if isinstance(e, kind)]


def test_vad_params_defaults_and_validation() -> None:
    p = VadParams()
    assert (p.aggressiveness, p.min_speech_ms, p.silence_ms, p.prefix_padding_ms) == (2, 200, 600, 300)
    assert (p.max_utterance_ms, p.min_volume_dbfs) == (30_000, -50.0)
    for bad in ({"aggressiveness": 4}, {"silence_ms": 50}, {"min_volume_dbfs": 3}, {"surprise": 1}):
        with pytest.raises(ValidationError):
            VadParams(**bad)
    with pytest.raises(ValidationError):
        VadParams(min_speech_ms=2000, max_utterance_ms=1000)


def test_700ms_of_silence_ends_the_turn_in_microseconds() -> None:
    c = Clocked(TurnDetector())
    events = c.run("." * 10 + "x" * 15)
    assert events == [SpeechStarted(at=pytest.approx(100.0 + 20 * 0.02), audio_start_ms=200)]  # type: ignore[arg-type]
    events = c.run("." * 29)
    assert events == []  # 580 ms of silence: still the same turn
    events = c.run("." * 6)  # 700 ms in all
    stopped, ready = events
    assert stopped == SpeechStopped(at=pytest.approx(100.0 + 55 * 0.02), audio_end_ms=500)  # type: ignore[arg-type]
    assert isinstance(ready, UtteranceReady)
    assert ready.reason == "silence"
    assert not c.det.speaking
    assert c.det.interim_pcm() == b""


def test_a_60ms_click_does_not_start_a_turn() -> None:
    c = Clocked(TurnDetector())
    assert c.run("." * 20 + "xxx" + "." * 50) == []
    assert c.run("xxx" + "." * 5 + "xxx" + "." * 50) == []  # two clicks in one window: still 120 ms
    assert not c.det.speaking


def test_speech_with_short_unvoiced_gaps_starts_a_turn() -> None:
    c = Clocked(TurnDetector())
    events = c.run("xxx." * 4)  # the 10th voiced frame is frame 13
    assert only(events, SpeechStarted) == [SpeechStarted(at=pytest.approx(100.26), audio_start_ms=0)]  # type: ignore[arg-type]


def test_utterance_includes_prefix_padding_and_a_trailing_pad() -> None:
    c = Clocked(TurnDetector(VadParams(prefix_padding_ms=300, silence_ms=600)))
    events = c.run("." * 50 + "x" * 30 + "." * 30)
    started, stopped, ready = events
    assert started == SpeechStarted(at=pytest.approx(100.0 + 60 * 0.02), audio_start_ms=1000)  # type: ignore[arg-type]
    assert stopped == SpeechStopped(at=pytest.approx(100.0 + 110 * 0.02), audio_end_ms=1600)  # type: ignore[arg-type]
    assert isinstance(ready, UtteranceReady)
    got = [index_of(ready.pcm[i : i + FRAME_BYTES]) for i in range(0, len(ready.pcm), FRAME_BYTES)]
    # 300 ms (15 frames) before the first voiced frame 50, and 300 ms of the trailing silence after frame 79.
    assert got == list(range(35, 95))
    assert ready.audio_start_ms == 700
    assert ready.duration_ms == 1200
    assert ready.started_at == pytest.approx(100.0 + 60 * 0.02)
    assert ready.ended_at == pytest.approx(100.0 + 110 * 0.02)


def test_prefix_padding_is_limited_to_the_audio_that_exists() -> None:
    c = Clocked(TurnDetector())
    ready = only(c.run("..xxxxxxxxxxxx" + "." * 30), UtteranceReady)
    assert isinstance(ready[0], UtteranceReady)
    assert index_of(ready[0].pcm[:2]) == 0
    assert ready[0].audio_start_ms == 0


def test_interim_pcm_grows_while_the_user_speaks() -> None:
    c = Clocked(TurnDetector(VadParams(prefix_padding_ms=0)))
    c.run("x" * 10)
    assert len(c.det.interim_pcm()) == 10 * FRAME_BYTES
    c.run("x" * 5)
    assert len(c.det.interim_pcm()) == 15 * FRAME_BYTES


def test_max_utterance_force_ends_and_speech_continues_seamlessly() -> None:
    c = Clocked(TurnDetector(VadParams(max_utterance_ms=2000, prefix_padding_ms=0)))
    events = c.run("x" * 150)  # 3 s of unbroken speech
    ready = only(events, UtteranceReady)
    assert len(ready) == 1
    first = ready[0]
    assert isinstance(first, UtteranceReady)
    assert first.reason == "max_duration"
    assert first.duration_ms == 2000
    started = only(events, SpeechStarted)
    assert [e.audio_start_ms for e in started if isinstance(e, SpeechStarted)] == [0, 2000]
    events = c.run("." * 30)
    second = only(events, UtteranceReady)[0]
    assert isinstance(second, UtteranceReady)
    assert second.audio_start_ms == 2000  # no audio lost, none duplicated
    assert index_of(second.pcm[:2]) == 100


def test_deadline_ends_the_turn_when_audio_stops_arriving() -> None:
    det = TurnDetector()
    c = Clocked(det)
    assert det.deadline() is None
    c.run("x" * 20 + "." * 5)  # then the client goes quiet
    deadline = det.deadline()
    assert deadline is not None
    assert deadline == pytest.approx(c.now + (600 - 100 + 20) / 1000)
    assert det.on_timer(deadline - 0.001) == []
    stopped, ready = det.on_timer(deadline)
    assert isinstance(stopped, SpeechStopped)
    assert stopped.audio_end_ms == 400
    assert isinstance(ready, UtteranceReady)
    assert ready.reason == "timeout"
    assert det.deadline() is None


def test_commit_in_server_vad_ends_the_turn_early() -> None:
    c = Clocked(TurnDetector())
    assert c.det.commit(c.now) == [UtteranceDiscarded(at=c.now, reason="no_speech")]
    c.run("x" * 20)
    events = c.det.commit(c.now)
    assert [type(e) for e in events] == [SpeechStopped, UtteranceReady]
    assert isinstance(events[1], UtteranceReady)
    assert events[1].reason == "commit"


def test_push_to_talk_reports_vad_but_only_commit_ends_the_turn() -> None:
    c = Clocked(TurnDetector(mode="push_to_talk"))
    events = c.run("." * 5 + "x" * 20 + "." * 40 + "x" * 20 + "." * 5)
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped, SpeechStarted]
    assert len(c.det.interim_pcm()) == 90 * FRAME_BYTES
    stopped, ready = c.det.commit(c.now)
    assert isinstance(stopped, SpeechStopped)
    assert isinstance(ready, UtteranceReady)
    assert ready.reason == "commit"
    assert ready.pcm == b"".join(frame(i) for i in range(90))  # everything since the last commit
    assert ready.started_at == pytest.approx(100.02)
    assert c.det.interim_pcm() == b""


def test_push_to_talk_discards_no_speech_too_short_and_cleared() -> None:
    c = Clocked(TurnDetector(mode="push_to_talk"))
    c.run("." * 30)
    assert c.det.commit(c.now) == [UtteranceDiscarded(at=c.now, reason="no_speech")]
    c.run("xx...")  # 100 ms < min_speech_ms
    assert c.det.commit(c.now) == [UtteranceDiscarded(at=c.now, reason="too_short")]
    c.run("x" * 15)
    events = c.det.clear()
    assert [type(e) for e in events] == [SpeechStopped, UtteranceDiscarded]
    assert c.det.interim_pcm() == b""
    assert c.det.commit(c.now) == [UtteranceDiscarded(at=c.now, reason="no_speech")]


def test_push_to_talk_max_utterance_forces_a_commit() -> None:
    c = Clocked(TurnDetector(VadParams(max_utterance_ms=1000), mode="push_to_talk"))
    ready = only(c.run("x" * 60), UtteranceReady)
    assert len(ready) == 1
    assert isinstance(ready[0], UtteranceReady)
    assert ready[0].reason == "max_duration"
    assert ready[0].duration_ms == 1000


def test_text_mode_ignores_audio_and_set_mode_discards_the_buffer() -> None:
    det = TurnDetector()
    c = Clocked(det)
    c.run("x" * 15)
    assert [type(e) for e in det.set_mode("text", c.now)] == [SpeechStopped, UtteranceDiscarded]
    assert c.run("x" * 100) == []
    assert det.commit(c.now) == []
    assert det.position_ms == 115 * FRAME_MS


def test_wrong_frame_size_is_a_protocol_violation() -> None:
    with pytest.raises(ProtocolViolation):
        TurnDetector().feed(True, b"\x00" * 320, 0.0)
    with pytest.raises(ProtocolViolation):
        TurnDetector(frame_ms=25)


# -- end of turn on words (core.eot) -------------------------------------------------------------------------


def test_an_unfinished_phrase_keeps_the_turn_open_through_a_long_pause() -> None:
    c = Clocked(TurnDetector())
    c.run("x" * 30 + "." * 12)  # 240 ms into the pause the driver has a transcript
    assert c.det.on_transcript("My sister is", c.det.last_voiced_end_ms, c.now) == []
    assert c.det.end_silence_ms == 1500
    assert c.run("." * 40) == []  # 1040 ms of silence: still open
    assert c.det.speaking
    assert only(c.run("x" * 10 + "." * 29), UtteranceReady) == []  # went on talking: back to 600 ms
    ready = only(c.run("." * 1), UtteranceReady)
    assert len(ready) == 1 and isinstance(ready[0], UtteranceReady) and ready[0].reason == "silence"


def test_a_complete_question_ends_the_turn_as_soon_as_its_transcript_arrives() -> None:
    c = Clocked(TurnDetector())
    c.run("x" * 30 + "." * 21)  # 420 ms of silence: past min_silence_ms when the transcript comes
    events = c.det.on_transcript("Where is my phone?", c.det.last_voiced_end_ms, c.now)
    assert [type(e) for e in events] == [SpeechStopped, UtteranceReady]
    assert isinstance(events[1], UtteranceReady) and events[1].reason == "words"
    assert not c.det.speaking


def test_a_question_transcript_before_the_short_pause_ends_it_at_that_pause() -> None:
    c = Clocked(TurnDetector())
    c.run("x" * 30 + "." * 5)
    assert c.det.on_transcript("Where is my phone?", c.det.last_voiced_end_ms, c.now) == []
    assert c.run("." * 14) == []
    _stopped, ready = c.run("." * 1)  # 400 ms
    assert isinstance(ready, UtteranceReady) and ready.reason == "silence"


def test_a_stale_transcript_is_ignored() -> None:
    c = Clocked(TurnDetector())
    c.run("x" * 30 + "." * 12)
    taken_at = c.det.last_voiced_end_ms
    c.run("x" * 5 + "." * 17)  # the user said more after the audio was taken
    assert c.det.on_transcript("Where is my phone?", taken_at, c.now) == []
    assert c.det.end_silence_ms == 600
    assert c.det.speaking


def test_end_of_turn_silence_mode_and_push_to_talk_ignore_transcripts() -> None:
    c = Clocked(TurnDetector(VadParams(end_of_turn="silence")))
    c.run("x" * 30 + "." * 17)
    assert c.det.on_transcript("Where is my phone?", c.det.last_voiced_end_ms, c.now) == []
    assert c.det.end_silence_ms == 600
    p = Clocked(TurnDetector(mode="push_to_talk"))
    p.run("x" * 30 + "." * 17)
    assert p.det.on_transcript("Where is my phone?", p.det.last_voiced_end_ms, p.now) == []


def test_the_deadline_follows_the_pause_the_words_asked_for() -> None:
    det = TurnDetector(VadParams(max_silence_ms=2000))
    c = Clocked(det)
    c.run("x" * 20 + "." * 10)
    det.on_transcript("I went to the store because", det.last_voiced_end_ms, c.now)
    deadline = det.deadline()
    assert deadline == pytest.approx(c.now + (2000 - 200 + 20) / 1000)
    assert det.on_timer(deadline - 0.01) == []
    assert [type(e) for e in det.on_timer(deadline)] == [SpeechStopped, UtteranceReady]


def test_an_unpunctuating_recognizer_does_not_stretch_plain_text() -> None:
    c = Clocked(TurnDetector(punctuated=False))
    c.run("x" * 30 + "." * 12)
    c.det.on_transcript("my phone number is 555", c.det.last_voiced_end_ms, c.now)
    assert c.det.end_silence_ms == 600
