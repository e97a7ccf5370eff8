"""Small shared audio types: the format of a stream and ms <-> bytes arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from voice_letta.errors import ProtocolViolation

Encoding = Literal["pcm16", "mulaw"]

#: Frame durations accepted by webrtcvad (and used by the Framer).
VALID_FRAME_MS: tuple[int, ...] = (10, 20, 30)


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """Mono audio: ``pcm16`` is signed 16-bit little-endian, ``mulaw`` is G.711 mu-law (one byte a sample)."""

    sample_rate_hz: int
    encoding: Encoding = "pcm16"

    def __post_init__(self) -> None:
        if self.sample_rate_hz <= 0:
            raise ProtocolViolation(f"sample rate must be positive, got {self.sample_rate_hz}")

    @property
    def bytes_per_sample(self) -> int:
        return 2 if self.encoding == "pcm16" else 1

    @property
    def bytes_per_ms(self) -> float:
        return self.sample_rate_hz * self.bytes_per_sample / 1000.0

    def bytes_for_ms(self, ms: float) -> int:
        """Whole samples' worth of bytes for ``ms`` milliseconds (rounded down to a sample)."""
        samples = int(self.sample_rate_hz * ms / 1000.0)
        return samples * self.bytes_per_sample

    def ms_for_bytes(self, n_bytes: int) -> float:
        return (n_bytes // self.bytes_per_sample) * 1000.0 / self.sample_rate_hz

    @property
    def silence_byte(self) -> int:
        """The byte value of digital silence (0x00 for PCM16, 0xFF for mu-law)."""
        return 0x00 if self.encoding == "pcm16" else 0xFF


def pcm16_ms(n_bytes: int, sample_rate_hz: int) -> float:
    """Duration in ms of ``n_bytes`` of mono PCM16 at ``sample_rate_hz``."""
    return (n_bytes // 2) * 1000.0 / sample_rate_hz


def pcm16_bytes(ms: float, sample_rate_hz: int) -> int:
    """Bytes of mono PCM16 for ``ms`` milliseconds at ``sample_rate_hz`` (whole samples)."""
    return int(sample_rate_hz * ms / 1000.0) * 2
