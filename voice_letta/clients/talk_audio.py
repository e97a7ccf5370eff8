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
from voice_letta.core.resample import StreamResampler

MIC_RATE_HZ = 16000
OUTPUT_RATE_HZ = 24000
CHUNK_MS = 20
PORTAUDIO_HINT = ("PortAudio is not installed: apt-get install libportaudio2 (or brew install portaudio), "
                  "or use --input-file/--output-file to run without a sound card")


class TalkError(Exception):
    """A user-facing failure: printed without a traceback, exit status 2."""


# --- audio files ------------------------------------------------------------------------------------------
def read_wav(path: str) -> tuple[bytes, int]:
    """A WAV as PCM16 mono at a rate the server accepts (8/16/24/48 kHz; anything else → 16 kHz)."""
    try:
        with wave.open(path, "rb") as w:
            if w.getsampwidth() != 2:
                raise TalkError(f"{path}: only 16-bit PCM WAV files are supported")
            rate, channels = w.getframerate(), w.getnchannels()
            pcm = w.readframes(w.getnframes())
    except EOFError:  # the stdlib's answer to an empty file or a header cut short
        raise TalkError(f"{path} is not a WAV file (empty, or cut off in its header)") from None
    except (OSError, wave.Error) as exc:
        raise TalkError(f"cannot read {path}: {exc}") from exc
    pcm = pcm[: len(pcm) // (2 * channels) * 2 * channels]  # a file cut mid-sample: whole samples only
    if not pcm:
        raise TalkError(f"{path} holds no audio")
    if channels > 1:
        pcm = np.frombuffer(pcm, "<i2").reshape(-1, channels).mean(axis=1).astype("<i2").tobytes()
    if rate not in C.SUPPORTED_SAMPLE_RATES_HZ:
        r = StreamResampler(rate, MIC_RATE_HZ)
        pcm, rate = r.feed(pcm) + r.flush(), MIC_RATE_HZ
    return pcm, rate


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
