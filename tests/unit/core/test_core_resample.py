from __future__ import annotations

import numpy as np
import pytest
from core_signals import sine

from voice_letta.core.codecs import pcm16_to_array
from voice_letta.core.resample import StreamResampler
from voice_letta.errors import ProtocolViolation


def _peak_hz(pcm: bytes, rate: int) -> float:
    x = pcm16_to_array(pcm).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / rate)[np.argmax(spectrum)])


def _stream(resampler: StreamResampler, pcm: bytes, chunk_bytes: int) -> bytes:
    out = b"".join(resampler.feed(pcm[i : i + chunk_bytes]) for i in range(0, len(pcm), chunk_bytes))
    return out + resampler.flush()


def test_8k_to_16k_to_48k_keeps_frequency_and_length_ratio() -> None:
    src = sine(440.0, 1000, rate=8000)  # 8000 samples
    up16 = _stream(StreamResampler(8000, 16000), src, 320)  # 20 ms chunks at 8 kHz
    up48 = _stream(StreamResampler(16000, 48000), up16, 640)
    assert len(up16) // 2 == pytest.approx(16000, abs=2)
    assert len(up48) // 2 == pytest.approx(48000, abs=6)
    assert _peak_hz(up16, 16000) == pytest.approx(440.0, abs=2.0)
    assert _peak_hz(up48, 48000) == pytest.approx(440.0, abs=2.0)


def test_downsampling_48k_to_16k_keeps_frequency() -> None:
    src = sine(1000.0, 500, rate=48000)
    out = _stream(StreamResampler(48000, 16000), src, 1918)  # odd-sized chunks of whole samples
    assert len(out) // 2 == pytest.approx(8000, abs=2)
    assert _peak_hz(out, 16000) == pytest.approx(1000.0, abs=4.0)


def test_chunked_resampling_matches_one_shot_and_is_deterministic() -> None:
    src = sine(300.0, 400, rate=8000)
    one = pcm16_to_array(_stream(StreamResampler(8000, 16000), src, len(src))).astype(np.int32)
    chunked = pcm16_to_array(_stream(StreamResampler(8000, 16000), src, 62)).astype(np.int32)
    assert one.size == chunked.size
    assert np.abs(one - chunked).max() <= 1  # the filter state carries over between chunks
    again = pcm16_to_array(_stream(StreamResampler(8000, 16000), src, 62)).astype(np.int32)
    assert np.array_equal(chunked, again)  # deterministic


def test_equal_rates_pass_through_unchanged() -> None:
    r = StreamResampler(16000, 16000)
    assert r.passthrough
    assert r.feed(b"\x01\x02\x03\x04") == b"\x01\x02\x03\x04"
    assert r.flush() == b""


def test_odd_byte_count_is_rejected() -> None:
    with pytest.raises(ProtocolViolation):
        StreamResampler(8000, 16000).feed(b"\x00\x00\x00")
    with pytest.raises(ProtocolViolation):
        StreamResampler(16000, 16000).feed(b"\x00")


def test_reset_drops_filter_state() -> None:
    r = StreamResampler(8000, 16000)
    r.feed(sine(440.0, 100, rate=8000))
    r.reset()
    assert r.flush() == b""
