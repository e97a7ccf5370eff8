"""Per-process limits on blocking model inference (Whisper, Piper, MiniLM) run in worker threads.

asyncio semaphores belong to one event loop, so each loop (tests start many) gets its own, per engine kind.
"""

from __future__ import annotations

import asyncio
import weakref

from voice_letta.config import INFERENCE_THREADS

_semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary())


def inference_semaphore(kind: str) -> asyncio.Semaphore:
    """The running loop's semaphore for one kind of engine ("stt", "tts", "embed")."""
    per_loop = _semaphores.setdefault(asyncio.get_running_loop(), {})
    sem = per_loop.get(kind)
    if sem is None:
        sem = per_loop[kind] = asyncio.Semaphore(INFERENCE_THREADS)
    return sem
