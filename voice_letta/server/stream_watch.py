"""Open ``/v1/chat/completions`` streams while the agent works: keep-alives, vanished clients and shutdown.

aiohttp reports a vanished client only on the next write, a barge-in must stop generation at once, and LiveKit gives
up after 10 s without bytes. One ticker per event loop looks at every stream whose handler waits for the agent
(``StreamWatch``), every ``DISCONNECT_POLL_S``: it cancels the wait of a closed connection or past the shutdown grace,
and writes a keep-alive on a quiet stream.
"""

from __future__ import annotations

import asyncio
import time
import weakref

from aiohttp import web

from voice_letta.server import lifecycle
from voice_letta.server.keys import CONFIG
from voice_letta.wire import openai_chat as W

DISCONNECT_POLL_S = 0.05


class StreamWatch:
    """One open stream as the ``Ticker`` sees it: the handler's task (which drives the agent's turn itself, no
    producer task or queue in between), when bytes last went out, and whether the handler is waiting for the agent
    (only then may the ticker cut the turn or send a keep-alive: otherwise the handler is writing)."""

    __slots__ = ("beat", "broken", "cut", "drain_until", "flush", "held", "keepalive_s", "last_write", "request",
                 "resp", "task", "waiting")

    def __init__(self, request: web.Request, resp: web.StreamResponse, keepalive_s: float) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.task = task
        self.request = request
        self.resp = resp
        self.keepalive_s = keepalive_s
        self.last_write = time.monotonic()
        self.waiting = False
        self.cut: str | None = None  # "gone" (the client went away) or "drain" (shutting down): the ticker cancelled
        self.drain_until: float | None = None
        self.beat: asyncio.Task[None] | None = None  # a keep-alive being written
        self.held: list[bytes] = []  # chunks written by ``flush`` once the handler's step ends (``send_soon``)
        self.flush: asyncio.Handle | None = None
        self.broken = False  # a write by ``flush`` found the connection gone

    def check(self, now: float) -> None:
        """The ticker's look at a stream whose handler waits for the agent."""
        transport = self.request.transport
        if transport is None or transport.is_closing():
            self._cut("gone")  # a barge-in drops the request: cancelling the turn keeps its partial reply
            return
        if self.drain_until is None and lifecycle.draining(self.request):
            self.drain_until = now + self.request.app[CONFIG].shutdown_grace_s
        if self.drain_until is not None and now >= self.drain_until:
            self._cut("drain")  # shutting down and the turn still runs: cut it, end the stream properly
            return
        if self.beat is None and now - self.last_write >= self.keepalive_s:
            self.last_write = now
            self.beat = asyncio.get_running_loop().create_task(self._keepalive())

    def send_soon(self, data: bytes) -> None:
        """Write ``data`` once the handler's task step ends, with whatever else the agent produces in the same step
        (the last words and the end of the reply come out of one read of the model's stream): one send, one wake-up
        of the client. The first chunk of content goes out before the next read of the model's stream, as a write
        right here would: that read can only come in a later iteration of the loop."""
        self.held.append(data)
        if self.flush is None:
            self.flush = asyncio.get_running_loop().call_soon(self._flush)

    def take(self) -> bytes:
        """What ``send_soon`` holds, for the handler to write itself now (in order, before its own bytes)."""
        if not self.held:
            return b""
        if self.flush is not None:
            self.flush.cancel()
            self.flush = None
        data = b"".join(self.held)
        self.held.clear()
        return data

    def _flush(self) -> None:
        self.flush = None
        data = b"".join(self.held)
        self.held.clear()
        try:
            write_now(self.resp, data)
        except (ConnectionResetError, RuntimeError):
            self.broken = True
            if self.waiting:
                self._cut("gone")
            return
        self.last_write = time.monotonic()

    def _cut(self, why: str) -> None:
        if self.cut is None:
            self.cut = why
            self.waiting = False
            self.task.cancel()

    async def _keepalive(self) -> None:
        """A comment while the agent is busy (LiveKit gives up after 10 s without bytes); before the turn started
        (the agent busy with another turn) the headers go out with it, so the client does not time out waiting."""
        try:
            await self.resp.prepare(self.request)
            await self.resp.write(W.SSE_KEEPALIVE)
        except (ConnectionResetError, RuntimeError):
            pass  # the client went away: the next tick cuts the turn
        finally:
            self.beat = None


class Ticker:
    """One timer for all open streams of an event loop, instead of a timeout around every wait of every stream.

    aiohttp reports a vanished client only on the next write, and a barge-in must stop generation at once, so
    every ``DISCONNECT_POLL_S`` the ticker looks at each stream whose handler waits for the agent (``StreamWatch``): a
    closed connection or the end of the shutdown grace cancels the handler's wait (the agent keeps the partial
    reply as interrupted), a quiet stream gets a keep-alive. The timer runs only while streams are open: a turn
    shorter than a tick schedules one timer and cancels it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._streams: set[StreamWatch] = set()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, watch: StreamWatch) -> None:
        self._streams.add(watch)
        if self._timer is None:
            self._timer = self._loop.call_later(DISCONNECT_POLL_S, self._tick)

    def discard(self, watch: StreamWatch) -> None:
        self._streams.discard(watch)
        if not self._streams and self._timer is not None:  # no wake-up of an idle loop for nothing
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        self._timer = None
        now = time.monotonic()
        for watch in list(self._streams):
            if watch.waiting:
                watch.check(now)
        if self._streams:
            self._timer = self._loop.call_later(DISCONNECT_POLL_S, self._tick)


_TICKERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Ticker] = weakref.WeakKeyDictionary()


def stream_ticker() -> Ticker:
    loop = asyncio.get_running_loop()
    ticker = _TICKERS.get(loop)
    if ticker is None:
        ticker = _TICKERS[loop] = Ticker(loop)
    return ticker


def write_now(resp: web.StreamResponse, data: bytes) -> None:
    """``resp.write`` from a callback: aiohttp's write hands the bytes to the transport first and awaits only to
    drain a full buffer (64 KB the client has not read); that wait is skipped here (the next awaited write
    drains)."""
    coro = resp.write(data)
    try:
        coro.send(None)
    except StopIteration:
        return
    coro.close()
