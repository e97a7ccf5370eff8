"""Fallback text-to-speech with the ``espeak-ng`` binary (apt ``espeak-ng``; GPL-3.0, run as a process).

Robotic but fast and tiny. ``espeak-ng --stdout`` writes a WAV whose header carries placeholder sizes,
so the header is parsed for the sample rate and the rest of the stream is passed on as PCM16 as it
arrives. Cancelling the consumer kills the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import struct
from collections.abc import AsyncIterator

from voice_letta.agent.ports import SpeechChunk, TextToSpeech
from voice_letta.errors import ConfigError, ProviderUnavailable

ESPEAK_BINARY = "espeak-ng"
ESPEAK_RATE_HZ = 22050
READ_BYTES = 4410  # 100 ms at 22050 Hz
MAX_HEADER_BYTES = 4096


def available() -> bool:
    return shutil.which(ESPEAK_BINARY) is not None


def parse_wav_header(data: bytes) -> tuple[int, int] | None:
    """(sample_rate_hz, offset of the PCM) once ``data`` holds the whole header, else None.

    Raises ``ProviderUnavailable`` if the stream is not mono 16-bit PCM WAV.
    """
    if len(data) < 12:
        return None
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ProviderUnavailable("espeak-ng: output is not a WAV stream")
    pos = 12
    rate: int | None = None
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if chunk_id == b"data":
            if rate is None:
                raise ProviderUnavailable("espeak-ng: WAV data before fmt")
            return rate, pos + 8
        if pos + 8 + size > len(data):
            return None
        if chunk_id == b"fmt ":
            fmt, channels, rate = struct.unpack_from("<HHI", data, pos + 8)
            bits = struct.unpack_from("<H", data, pos + 22)[0]
            if fmt != 1 or channels != 1 or bits != 16:
                raise ProviderUnavailable(f"espeak-ng: unsupported WAV (fmt {fmt}, {channels} ch, {bits} bit)")
        pos += 8 + size + (size & 1)
    return None


class EspeakTTS(TextToSpeech):
    """espeak-ng through ``asyncio`` subprocesses; ``voice`` is an espeak voice name such as ``en-us``."""

    sample_rate_hz = ESPEAK_RATE_HZ

    def __init__(self, *, voice: str = "en-us", words_per_minute: int = 165, binary: str | None = None) -> None:
        # Resolved on PATH by the subprocess call; check ``available()`` first (it touches the disk).
        self.binary = binary or ESPEAK_BINARY
        self.voice = voice
        self.words_per_minute = words_per_minute

    async def synthesize(self, text: str, *, voice: str | None = None) -> AsyncIterator[SpeechChunk]:
        if not text.strip():
            return
        try:
            proc = await asyncio.create_subprocess_exec(
                self.binary,
                "--stdout",
                "-v",
                voice or self.voice,
                "-s",
                str(self.words_per_minute),
                "--stdin",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError as exc:
            raise ConfigError(f"{self.binary} is not installed (apt-get install -y espeak-ng)") from exc
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        try:
            proc.stdin.write(text.encode("utf-8") + b"\n")
            await proc.stdin.drain()
            proc.stdin.close()
            head = b""
            rate: int | None = None
            carry = b""
            while True:
                data = await proc.stdout.read(READ_BYTES)
                if not data:
                    break
                if rate is None:
                    head += data
                    parsed = parse_wav_header(head)
                    if parsed is None:
                        if len(head) > MAX_HEADER_BYTES:
                            raise ProviderUnavailable("espeak-ng: no WAV header")
                        continue
                    rate, offset = parsed
                    self.sample_rate_hz = rate
                    data = head[offset:]
                data = carry + data
                cut = len(data) - len(data) % 2
                carry = data[cut:]
                if cut:
                    yield SpeechChunk(data[:cut], rate)
            code = await proc.wait()
            if code != 0:
                err = (await proc.stderr.read()).decode("utf-8", "replace").strip()
                raise ProviderUnavailable(f"espeak-ng exited with {code}: {err[:200]}")
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
