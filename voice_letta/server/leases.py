"""This process's leases in the database stay alive while it does: a heartbeat task renews them.

Agent turn leases (``Store.begin_turn``) and memory-job leases expire ``AGENT_LEASE_S`` after their last
renewal, so a process killed mid-turn frees its agents and its running jobs by itself; a live one renews all of
its own every third of that, in one transaction (``Store.renew_leases``), however many it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from voice_letta import config as C
from voice_letta.agent.ports import Store
from voice_letta.server.keys import STORE

log = logging.getLogger(__name__)


async def renew_forever(store: Store, holder: str, *, lease_s: float = C.AGENT_LEASE_S,
                        clock: Callable[[], float] = time.time) -> None:
    while True:
        await asyncio.sleep(lease_s / 3)
        try:
            await store.renew_leases(holder, until=clock() + lease_s)
        except Exception:  # a database hiccup must not end the heartbeat; the next beat tries again
            log.warning("renewing the leases of %s failed", holder, exc_info=True)


def lease_heartbeat(holder: str) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` that runs ``renew_forever`` for ``holder`` while the app runs."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(renew_forever(app[STORE], holder), name="lease-heartbeat")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx
