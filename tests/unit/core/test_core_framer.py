from __future__ import annotations

import pytest

from voice_letta.core.framer import Framer
from voice_letta.errors import ProtocolViolation


def test_odd_sized_chunks_become_exact_frames_in_order() -> None:
    framer = Framer(16000, 20)
    data = bytes(i % 251 for i in range(640 * 7 + 123))
    out: list[bytes] = []
    pos = 0
    for size in (1, 333, 7, 640, 1281, 2, 999, 5):
        out += framer.feed(data[pos : pos + size])
        pos += size
    out += framer.feed(data[pos:])
    assert [len(f) for f in out] == [640] * 7
    assert b"".join(out) == data[: 640 * 7]
    assert framer.pending_bytes == 123
    assert framer.flush() == data[640 * 7 : 640 * 7 + 122]  # whole samples only
    assert framer.pending_bytes == 0


@pytest.mark.parametrize(("rate", "ms", "size"), [(8000, 10, 160), (8000, 20, 320), (16000, 30, 960), (48000, 10, 960)])
def test_frame_sizes(rate: int, ms: int, size: int) -> None:
    framer = Framer(rate, ms)
    assert framer.frame_bytes == size
    assert framer.feed(bytes(size * 2 + 1)) == [bytes(size), bytes(size)]


def test_reset_drops_the_remainder() -> None:
    framer = Framer(8000, 20)
    assert framer.feed(bytes(100)) == []
    framer.reset()
    assert framer.feed(bytes(320)) == [bytes(320)]


@pytest.mark.parametrize(("rate", "ms"), [(11025, 20), (44100, 20), (16000, 25), (16000, 0)])
def test_unsupported_rate_or_frame_size_is_a_protocol_violation(rate: int, ms: int) -> None:
    with pytest.raises(ProtocolViolation):
        Framer(rate, ms)
