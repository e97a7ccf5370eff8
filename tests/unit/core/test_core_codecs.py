from __future__ import annotations

import warnings

import numpy as np
import pytest

from voice_letta.core.codecs import (
    alaw_to_pcm16,
    array_to_pcm16,
    pcm16_to_alaw,
    pcm16_to_array,
    pcm16_to_ulaw,
    rms_dbfs,
    ulaw_decode_array,
    ulaw_encode_array,
    ulaw_to_pcm16,
)
from voice_letta.errors import ProtocolViolation

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)


def test_pcm16_bytes_are_little_endian_int16() -> None:
    assert pcm16_to_array(b"\x01\x00\xff\xff\x00\x80").tolist() == [1, -1, -32768]
    assert array_to_pcm16(np.array([1, -1, 32767], dtype=np.int16)) == b"\x01\x00\xff\xff\xff\x7f"


def test_odd_length_pcm16_is_a_protocol_violation() -> None:
    with pytest.raises(ProtocolViolation):
        pcm16_to_array(b"\x00\x01\x02")
    with pytest.raises(ProtocolViolation):
        pcm16_to_ulaw(b"\x00")


@pytest.mark.parametrize(
    ("pcm", "code"),
    [(0, 0xFF), (-1, 0x7E), (1, 0xFF), (32767, 0x80), (-32768, 0x00), (1000, 0xCE), (-1000, 0x4E)],
)
def test_ulaw_encode_reference_values(pcm: int, code: int) -> None:
    assert ulaw_encode_array(np.array([pcm], dtype=np.int16)) == bytes([code])


@pytest.mark.parametrize(
    ("code", "pcm"),
    [(0xFF, 0), (0x7F, 0), (0x80, 32124), (0x00, -32124), (0xCE, 988), (0x4E, -988), (0xF0, 120)],
)
def test_ulaw_decode_reference_values(code: int, pcm: int) -> None:
    assert ulaw_decode_array(bytes([code])).tolist() == [pcm]


def test_ulaw_bytes_helpers_are_inverse_sized() -> None:
    pcm = array_to_pcm16(np.array([0, 100, -100, 8000], dtype=np.int16))
    ulaw = pcm16_to_ulaw(pcm)
    assert len(ulaw) == 4
    assert len(ulaw_to_pcm16(ulaw)) == 8


def test_ulaw_round_trip_error_is_within_half_a_segment_step() -> None:
    decoded = ulaw_decode_array(ulaw_encode_array(ALL_INT16)).astype(np.int32)
    err = np.abs(decoded - ALL_INT16.astype(np.int32))
    mag = np.abs(ALL_INT16.astype(np.int32))
    inside = mag <= 32124 - 512  # beyond the last level the encoder clips
    # The step doubles per segment (8 .. 1024 in 16-bit units); error <= step/2, i.e. <= 3.2% + 4.
    assert np.all(err[inside] <= mag[inside] * 0.032 + 8)
    assert err[mag < 64].max() <= 8  # segment 0 step is 8; the >> 2 of negatives adds up to 3
    assert err.max() <= 32768 - 32124


def test_every_ulaw_code_survives_decode_then_encode() -> None:
    codes = bytes(range(256))
    again = ulaw_encode_array(ulaw_decode_array(codes))
    # 0x7F (negative zero) re-encodes as 0xFF (positive zero); every other code is a fixed point.
    assert again == codes.replace(b"\x7f", b"\xff")


def test_ulaw_tables_are_bit_exact_with_audioop() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    all_pcm = array_to_pcm16(ALL_INT16)
    assert pcm16_to_ulaw(all_pcm) == audioop.lin2ulaw(all_pcm, 2)
    assert ulaw_to_pcm16(bytes(range(256))) == audioop.ulaw2lin(bytes(range(256)), 2)


def test_rms_dbfs() -> None:
    assert rms_dbfs(bytes(640)) == float("-inf")
    full_square = array_to_pcm16(np.array([32767, -32767] * 160, dtype=np.int16))
    assert rms_dbfs(full_square) == pytest.approx(0.0, abs=0.01)
    half = array_to_pcm16(np.array([16384, -16384] * 160, dtype=np.int16))
    assert rms_dbfs(half) == pytest.approx(-6.02, abs=0.01)


@pytest.mark.parametrize(("pcm", "code"), [(0, 0xD5), (-1, 0x55), (32767, 0xAA), (-32768, 0x2A), (1000, 0xFA)])
def test_alaw_encode_reference_values(pcm: int, code: int) -> None:
    assert pcm16_to_alaw(array_to_pcm16(np.array([pcm], dtype=np.int16))) == bytes([code])


def test_alaw_tables_are_bit_exact_with_audioop() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    all_pcm = array_to_pcm16(ALL_INT16)
    assert pcm16_to_alaw(all_pcm) == audioop.lin2alaw(all_pcm, 2)
    every_code = bytes(range(256))
    assert alaw_to_pcm16(every_code) == audioop.alaw2lin(every_code, 2)


def test_alaw_round_trip_stays_within_half_a_step() -> None:
    decoded = pcm16_to_array(alaw_to_pcm16(pcm16_to_alaw(array_to_pcm16(ALL_INT16))))
    err = np.abs(decoded.astype(np.int32) - ALL_INT16.astype(np.int32))
    assert int(err.max()) <= 512 and len(decoded) == len(ALL_INT16)
