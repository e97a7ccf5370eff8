from __future__ import annotations

import math

import pytest

from voice_letta.core.pacing import Pacer

RATE = 16000
FRAME = 640  # 20 ms


def test_starts_with_lead_ms_of_audio_then_one_frame_per_frame_time() -> None:
    p = Pacer(RATE, 20, lead_ms=100)
    p.push(bytes(FRAME * 50))  # 1 s
    assert len(p.pop_due(10.0)) == 5  # 100 ms ahead
    assert p.pop_due(10.0) == []
    assert p.next_due(10.0) == pytest.approx(10.02)
    assert p.pop_due(10.019) == []
    assert len(p.pop_due(10.02)) == 1
    assert p.sent_ms == 120


def test_never_more_than_lead_ms_ahead_of_real_time() -> None:
    p = Pacer(RATE, 20, lead_ms=100)
    p.push(bytes(FRAME * 100 + 300))
    p.flush()
    now, sent = 0.0, 0
    while True:
        due = p.next_due(now)
        if math.isinf(due):
            break
        now = max(now, due) + 0.003  # the driver wakes up a little late
        sent += len(p.pop_due(now))
        assert p.ahead_ms(now) <= 100 + 1e-6
    assert sent == 101
    assert p.sent_ms == pytest.approx(2000 + 300 / 2 / RATE * 1000)
    assert now == pytest.approx(2.0, abs=0.1)  # 2 s of audio took about 2 s (minus the lead)


def test_lead_ms_is_configurable() -> None:
    p = Pacer(RATE, 20, lead_ms=40)
    p.push(bytes(FRAME * 10))
    assert len(p.pop_due(0.0)) == 2


def test_clear_drops_everything_not_yet_sent_immediately() -> None:
    p = Pacer(RATE, 20, lead_ms=100)
    p.push(bytes(FRAME * 50 + 10))
    p.pop_due(0.0)
    assert p.clear() == pytest.approx(900 + 10 / 2 / RATE * 1000)
    assert p.pop_due(0.02) == []
    assert p.pop_due(100.0) == []
    assert math.isinf(p.next_due(0.02))
    assert p.queued_ms == 0
    assert p.sent_ms == 100
    # The next response starts a fresh timeline with a fresh lead.
    p.push(bytes(FRAME * 10))
    assert len(p.pop_due(0.03)) == 5


def test_after_an_underrun_new_audio_is_not_sent_in_a_burst() -> None:
    p = Pacer(RATE, 20, lead_ms=100)
    p.push(bytes(FRAME * 5))
    assert len(p.pop_due(0.0)) == 5
    p.push(bytes(FRAME * 50))  # arrives 5 s later
    assert len(p.pop_due(5.0)) == 5
    assert p.ahead_ms(5.0) == pytest.approx(100)


def test_partial_frames_wait_for_flush_and_mulaw_frames_are_160_bytes() -> None:
    p = Pacer(8000, 20, lead_ms=100, bytes_per_sample=1)
    p.push(b"\xff" * 250)
    frames = p.pop_due(0.0)
    assert [len(f) for f in frames] == [160]
    p.flush()
    assert [len(f) for f in p.pop_due(0.0)] == [90]
    assert p.sent_ms == pytest.approx(250 / 8)


def test_invalid_configuration() -> None:
    with pytest.raises(ValueError):
        Pacer(RATE, 20, lead_ms=10)
    with pytest.raises(ValueError):
        Pacer(RATE, 20, bytes_per_sample=3)
