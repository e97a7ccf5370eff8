"""Deterministic synthetic test signals (PCM16 mono bytes)."""

from __future__ import annotations

import numpy as np

from voice_letta.core.codecs import float_to_pcm16


def silence(ms: int, rate: int = 16000) -> bytes:
    return bytes(rate * ms // 1000 * 2)


def sine(freq_hz: float, ms: int, rate: int = 16000, amplitude: float = 0.5) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return float_to_pcm16(amplitude * np.sin(2 * np.pi * freq_hz * t))


def white_noise(ms: int, rate: int = 16000, dbfs: float = -60.0, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    rms = 10 ** (dbfs / 20)
    return float_to_pcm16(rng.normal(0.0, rms, rate * ms // 1000))


def voiced(ms: int, rate: int = 16000, f0_hz: float = 140.0, amplitude: float = 0.3) -> bytes:
    """A vowel-like signal: a harmonic series (f0 .. 3.4 kHz, formant-shaped, slight vibrato) with 4 Hz
    amplitude modulation, the syllable rate of speech. webrtcvad flags it as speech."""
    n = rate * ms // 1000
    t = np.arange(n) / rate
    f0 = f0_hz * (1 + 0.03 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    sig = np.zeros(n)
    k = 1
    while k * f0_hz < min(3400.0, rate / 2 - 200):
        f = k * f0_hz
        gain = sum(np.exp(-((f - fc) ** 2) / (2 * bw**2)) for fc, bw in ((700, 150), (1200, 200), (2600, 300)))
        sig += (gain + 0.05) / k**0.5 * np.sin(k * phase)
        k += 1
    sig /= np.max(np.abs(sig))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    return float_to_pcm16(amplitude * sig * envelope)


def frames(pcm: bytes, frame_bytes: int) -> list[bytes]:
    return [pcm[i : i + frame_bytes] for i in range(0, len(pcm) - frame_bytes + 1, frame_bytes)]
