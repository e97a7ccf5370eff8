"""Audio for ``voice-letta talk`` (``clients.ptt``): WAV files in and out, and the speakers through sounddevice.

sounddevice (PortAudio) is an optional dependency (``pip install 'voice-letta[client]'``); it is imported only
when the microphone or the speakers are used, so file mode runs without a sound card.
"""

from __future__ import annotations

import contextlib
import wave
from typing import Any

import numpy as np

from voice_letta import config as C
from voice_letta.core.codecs import alaw_to_pcm16, ulaw_to_pcm16
from voice_letta.core.resample import StreamResampler

MIC_RATE_HZ = 16000
OUTPUT_RATE_HZ = 24000
CHUNK_MS = 20
PORTAUDIO_HINT = ("PortAudio is not installed: apt-get install libportaudio2 (or brew install portaudio), "
                  "or use --input-file/--output-file to run without a sound card")


class TalkError(Exception):
    """A user-facing failure: printed without a traceback, exit status 2."""


# --- audio files ------------------------------------------------------------------------------------------
_PCM_INT, _IEEE_FLOAT, _ALAW, _MULAW, _EXTENSIBLE = 1, 3, 6, 7, 0xFFFE


def read_wav(path: str) -> tuple[bytes, int]:
    """A WAV as PCM16 mono at a rate the server accepts (8/16/24/48 kHz; anything else → 16 kHz).

    Integer PCM of 8, 16, 24 or 32 bits and 32/64-bit float, plain or WAVE_FORMAT_EXTENSIBLE (what recorders,
    editors and ffmpeg write for more than 16 bits): the stdlib ``wave`` reads only integer PCM in a plain
    header, and a 24-bit or float recording was refused ("unknown format: 3"). G.711 mu-law and A-law (8 bits),
    what phone systems, call recorders and voicemail exports write, were refused too ("format 7").
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise TalkError(f"cannot read {path}: {exc}") from exc
    fmt, samples = _wav_chunks(path, data)
    tag, channels, rate = int.from_bytes(fmt[0:2], "little"), int.from_bytes(fmt[2:4], "little"), \
        int.from_bytes(fmt[4:8], "little")
    bits = int.from_bytes(fmt[14:16], "little")
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        tag = int.from_bytes(fmt[24:26], "little")  # the sub-format GUID starts with the plain format tag
    width = bits // 8
    kinds = {(_PCM_INT, 1): "u1", (_PCM_INT, 2): "<i2", (_PCM_INT, 3): "i3", (_PCM_INT, 4): "<i4",
             (_IEEE_FLOAT, 4): "<f4", (_IEEE_FLOAT, 8): "<f8", (_MULAW, 1): "ulaw", (_ALAW, 1): "alaw"}
    kind = kinds.get((tag, width))
    if kind is None or channels < 1 or not 1000 <= rate <= 384_000 or bits % 8:
        raise TalkError(f"{path}: unsupported WAV encoding (format {tag}, {bits} bits, {channels} channels, "
                        f"{rate} Hz): use integer PCM of 8-32 bits, 32/64-bit float or G.711 mu-law/A-law")
    samples = samples[: len(samples) // (width * channels) * width * channels]  # whole frames only
    if not samples:
        raise TalkError(f"{path} holds no audio")
    pcm = _to_int16(samples, kind).reshape(-1, channels)
    mono = (pcm.mean(axis=1) if channels > 1 else pcm[:, 0]).astype("<i2").tobytes()
    if rate not in C.SUPPORTED_SAMPLE_RATES_HZ:
        r = StreamResampler(rate, MIC_RATE_HZ)
        mono, rate = r.feed(mono) + r.flush(), MIC_RATE_HZ
    return mono, rate


def _wav_chunks(path: str, data: bytes) -> tuple[bytes, bytes]:
    """The ``fmt `` and ``data`` chunks of a RIFF/WAVE file (a data chunk cut short is read as far as it goes)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise TalkError(f"{path} is not a WAV file (no RIFF/WAVE header)")
    fmt: bytes | None = None
    at = 12
    while at + 8 <= len(data):
        cid, size = data[at:at + 4], int.from_bytes(data[at + 4:at + 8], "little")
        body = data[at + 8:at + 8 + size]
        if cid == b"fmt ":
            fmt = body
        elif cid == b"data":
            if fmt is None or len(fmt) < 16:
                break
            return fmt, body
        at += 8 + size + (size & 1)  # chunks are word-aligned
    raise TalkError(f"{path} is not a WAV file (no format or data chunk)")


def _to_int16(samples: bytes, kind: str) -> np.ndarray:
    if kind in ("ulaw", "alaw"):
        return np.frombuffer((ulaw_to_pcm16 if kind == "ulaw" else alaw_to_pcm16)(samples), "<i2")
    if kind == "i3":  # 24-bit little-endian: the top two bytes of each sample are the 16-bit value
        top: np.ndarray = np.frombuffer(samples, np.uint8).reshape(-1, 3)[:, 1:].copy().view("<i2").reshape(-1)
        return top
    values = np.frombuffer(samples, kind)
    if kind == "u1":
        return ((values.astype(np.int16) - 128) << 8).astype(np.int16)
    if kind == "<i4":
        return (values >> 16).astype(np.int16)
    if kind in ("<f4", "<f8"):
        scaled: np.ndarray = np.clip(values, -1.0, 1.0) * 32767.0
        return scaled.astype(np.int16)
    return values.astype(np.int16)


def write_wav(path: str, pcm: bytes, rate: int) -> None:
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)


def import_sounddevice() -> Any:
    try:
        import sounddevice
    except ImportError as exc:
        raise TalkError("sounddevice is not installed: pip install 'voice-letta[client]' "
                        "(or use --input-file/--output-file)") from exc
    except OSError as exc:  # "PortAudio library not found"
        raise TalkError(PORTAUDIO_HINT) from exc
    return sounddevice


class Speaker:
    """Plays reply audio through a sounddevice OutputStream; knows how much of the response has played."""

    def __init__(self, sd: Any, rate: int) -> None:
        self.rate = rate
        self._buf = bytearray()
        self._played_bytes = 0
        try:
            self._stream = sd.RawOutputStream(samplerate=rate, channels=1, dtype="int16", callback=self._callback,
                                              blocksize=rate * CHUNK_MS // 1000)
            self._stream.start()
        except Exception as exc:  # PortAudioError, ValueError: no default output device (a server, SSH, CI)
            raise TalkError(f"no usable speakers ({exc}); check your audio devices, or use --output-file") from exc

    def _callback(self, outdata: Any, frames: int, _time: Any, _status: Any) -> None:  # PortAudio thread
        n = min(len(outdata), len(self._buf))
        outdata[:n] = self._buf[:n]
        outdata[n:] = b"\x00" * (len(outdata) - n)
        del self._buf[:n]
        self._played_bytes += n

    def play(self, pcm: bytes) -> None:
        self._buf += pcm

    def start_response(self) -> None:
        self._buf.clear()
        self._played_bytes = 0

    def stop(self) -> float:
        """Drop what has not played; returns ms played of the current response."""
        self._buf.clear()
        return self.played_ms

    @property
    def played_ms(self) -> float:
        return self._played_bytes / 2 * 1000 / self.rate

    @property
    def idle(self) -> bool:
        return not self._buf

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.stop()
            self._stream.close()
