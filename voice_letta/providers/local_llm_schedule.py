"""Which request the embedded model serves first: a live turn before a background job.

The model serves one request at a time in its own thread, in the order submitted. One long message once queued
~100 memory (eviction) jobs, each a multi-second prefill of a transcript on the 135M model, and every later turn of
that agent missed its 45 s first-token budget for as long as they ran (QA, session 9). So a request someone is
waiting to hear (``ChatRequest.background`` false) is *live* from submission to the end of its stream, and while
any live request is, a background one stops its prefill at the next chunk (``local_llm_sample.AnyOf``), emits
``GAVE_WAY`` (nothing else was emitted yet) and waits for the live ones to end before it starts again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

# A background request gives way at most this many times, each after waiting up to BACKGROUND_WAIT_S for the live
# requests to end: under a constant stream of turns it then runs like any request, so jobs are late, never starved.
MAX_GIVE_WAYS = 3
BACKGROUND_WAIT_S = 30.0


class GaveWay:
    """Emitted by a background run that stopped its prefill for a live request."""


GAVE_WAY = GaveWay()


class LiveRequests:
    """The live requests of one loaded model. Shared by the generation thread and any event loop, hence
    thread-safe: ``waiting`` is the flag a background prefill checks, ``until_none`` what a job awaits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._idle_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self.waiting = threading.Event()  # set while the count is above zero

    def enter(self) -> None:
        with self._lock:
            self._count += 1
            self.waiting.set()

    def leave(self) -> None:
        with self._lock:
            self._count -= 1
            if self._count:
                return
            self.waiting.clear()
            waiters, self._idle_waiters = self._idle_waiters, []
        for loop, idle in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits there any more
                loop.call_soon_threadsafe(idle.set)

    async def until_none(self, timeout_s: float) -> None:
        """Return when no live request is left, or after ``timeout_s``."""
        idle = asyncio.Event()
        waiter = (asyncio.get_running_loop(), idle)
        with self._lock:
            if not self._count:
                return
            self._idle_waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout_s):
                await idle.wait()
        except TimeoutError:
            with self._lock, contextlib.suppress(ValueError):
                self._idle_waiters.remove(waiter)
