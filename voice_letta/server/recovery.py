"""After a crash: give back what a dead server process held, and show what it left unfinished.

At start, before the first request:

- busy agent leases held by a process of this host that no longer exists (``host:pid:…`` holder ids: the pid,
  a single server's or a worker's supervisor's, checked with ``kill(pid, 0)``) are released at once, with
  its memory jobs, instead of after ``AGENT_LEASE_S``: a client retrying the turn a crash cut off is answered
  now, not 15 s later. Holders on other hosts, or whose pid is alive (another server, or a reused pid), are
  left to expire;
- turns still ``running`` whose agent lease is no longer held become ``incomplete`` (``GET
  /v1/agents/{id}/turns`` shows them; a client retrying one within ``RETRY_WINDOW_S`` runs it again without
  storing its input twice).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import AsyncIterator

from aiohttp import web

from voice_letta.agent.ports import Store
from voice_letta.server.keys import STORE

log = logging.getLogger(__name__)


def holder_is_dead_here(holder: str, *, host: str | None = None) -> bool:
    """Is ``holder`` a process of this host that has exited? Holder ids are ``host:pid:random`` for a single
    server and ``host:supervisor-pid:wN:random`` for a ``serve --workers`` worker (which dies with its
    supervisor, so a dead supervisor means a dead worker)."""
    parts = holder.split(":")
    if len(parts) < 3 or parts[0] != (host or socket.gethostname()) or not parts[1].isascii() \
            or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


async def recover(store: Store, *, now: float | None = None) -> tuple[int, int]:
    """Release dead local holders' leases, mark unfinished turns; returns (holders released, turns marked)."""
    now = time.time() if now is None else now
    released = 0
    for holder in await store.busy_lease_holders():
        if holder_is_dead_here(holder):
            await store.release_holder(holder, now=now)
            released += 1
    marked = await store.mark_unfinished_turns(now=now)
    return released, marked


async def recovery_ctx(app: web.Application) -> AsyncIterator[None]:
    released, marked = await recover(app[STORE])
    if released or marked:
        log.warning("recovered from a previous crash: released the leases of %d dead process(es), %d unfinished "
                    "turn(s) marked incomplete", released, marked)
    yield
