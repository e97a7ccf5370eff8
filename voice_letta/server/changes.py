"""What other server processes on the same database changed, applied here: the change feed.

Every process keeps things in memory that another process's writes make stale: cached agents (``CachingStore``),
vector indexes (``MemorySearch``), and the live sessions waiting for ``memory.updated``. Writes add rows to the
store's change log in their own transaction (triggers; see the store's migrations), so one task per process
reads the rows after the last one it saw and, skipping its own:

- ``agent`` (settings, blocks, tools changed): the cached agent is dropped;
- ``passage_added``: the new passages, with their vectors, are appended to the agent's index if it is loaded;
- ``passages`` (deleted or changed): the agent's index is dropped and reloads on its next search;
- ``memory_updated``: published on this process's ``MemoryBus``, with the agent's blocks as stored now.

Outgoing, ``SharedMemoryBus.publish`` delivers an event to this process's sessions at once and queues it for
the change log, which the same task writes. With SQLite the task reads every ``POLL_S``, so a change reaches
another process within about ``POLL_S``. PostgreSQL wakes it with ``NOTIFY`` (``Store.wait_for_changes``) only for
other processes' changes, a burst of them at once, and it reads the log otherwise only every ``SIGNALLED_POLL_S``.
Where ids can commit out of order (PostgreSQL), each read starts ``LOOKBACK_IDS`` behind the newest id seen and
skips the rows already applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from voice_letta import config as C
from voice_letta import ids
from voice_letta.agent.bus import MemoryBus, MemoryUpdated
from voice_letta.agent.memory_search import MemorySearch
from voice_letta.agent.ports import Change, Store
from voice_letta.errors import NotFoundError

log = logging.getLogger(__name__)

POLL_S = 0.1
SIGNALLED_POLL_S = 5.0  # with a store that wakes the feed itself (PostgreSQL NOTIFY): a safety-net read this often
KEEP_S = 600.0  # change-log rows older than this are deleted (every process reads them within POLL_S)
PRUNE_EVERY_S = 60.0
BATCH = 500
LOOKBACK_IDS = 64  # how far behind the newest id a late-committing row is still found (stores without ordered ids)


class SharedMemoryBus(MemoryBus):
    """A ``MemoryBus`` whose events also reach the sessions of the other processes on the same database."""

    def __init__(self, max_queued: int = 16) -> None:
        super().__init__(max_queued)
        self.outbox: list[MemoryUpdated] = []
        self.wake = asyncio.Event()

    def publish(self, event: MemoryUpdated) -> None:
        super().publish(event)
        self.outbox.append(event)
        self.wake.set()

    def publish_local(self, event: MemoryUpdated) -> None:
        """An event another process published: to this process's sessions only."""
        super().publish(event)


class ChangeFeed:
    def __init__(self, store: Store, bus: SharedMemoryBus, search: MemorySearch | None, *,
                 origin: str | None = None, poll_s: float = POLL_S, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.bus = bus
        self.search = search
        self.origin = origin or str(getattr(store, "origin", "") or ids.worker_id())
        self.poll_s = poll_s
        self.clock = clock
        self.cursor = 0
        self.applied = 0  # changes from other processes applied here (tests and metrics read it)
        # A store whose ids can commit out of order (PostgreSQL: a sequence value is taken at insert, the row is
        # visible at commit) is read again LOOKBACK_IDS behind the newest id seen, skipping the rows already
        # applied: a row whose transaction took an id before, and committed after, one already read is not lost.
        ordered = bool(getattr(store, "ids_in_commit_order", False))
        self.lookback = 0 if ordered else LOOKBACK_IDS
        self._seen: set[int] = set()

    async def start(self) -> None:
        self.cursor = await self.store.latest_change_id()
        if self.lookback:
            self._seen.update(c.id for c in await self.store.changes_since(max(0, self.cursor - self.lookback),
                                                                           limit=BATCH))

    async def run(self) -> None:
        last_prune = self.clock()
        while True:
            await self._flush_outbox()
            try:
                await self.poll()
                if self.clock() - last_prune > PRUNE_EVERY_S:
                    last_prune = self.clock()
                    await self.store.prune_changes(before=self.clock() - KEEP_S)
                    # expired Idempotency-Keys of the memory write routes go with it (server/request_keys.py)
                    await self.store.purge_request_keys(before=self.clock() - C.IDEMPOTENCY_KEY_TTL_S)
            except Exception:  # the feed must outlive a database hiccup; the next round reads from the same cursor
                log.warning("reading the change log failed", exc_info=True)
            await self._wait()

    async def _wait(self) -> None:
        """Until the poll interval passes, the database signals new rows (PostgreSQL), or an event goes out."""
        if self.bus.outbox:
            return
        signalled = bool(getattr(self.store, "signals_changes", False))
        waiter = asyncio.ensure_future(self.store.wait_for_changes(SIGNALLED_POLL_S if signalled else self.poll_s))
        outgoing = asyncio.ensure_future(self.bus.wake.wait())
        try:
            await asyncio.wait({waiter, outgoing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, outgoing):
                task.cancel()
            await asyncio.gather(waiter, outgoing, return_exceptions=True)

    async def _flush_outbox(self) -> None:
        self.bus.wake.clear()
        while self.bus.outbox:
            event = self.bus.outbox.pop(0)
            try:
                await self.store.record_memory_updated(
                    event.agent_id, passages_added=event.passages_added, passages_removed=event.passages_removed,
                    reason=event.reason, now=self.clock())
            except Exception:
                log.warning("recording memory.updated of agent %s for the other processes failed", event.agent_id,
                            exc_info=True)

    async def poll(self) -> int:
        """Apply what the other processes changed since the last call; returns how many of their rows."""
        applied = 0
        after = max(0, self.cursor - self.lookback)
        while True:
            rows = await self.store.changes_since(after, limit=BATCH)
            if not rows:
                return applied
            after, fetched = rows[-1].id, len(rows)
            self.cursor = max(self.cursor, after)
            if self.lookback:
                rows = [c for c in rows if c.id not in self._seen]
                self._seen.update(c.id for c in rows)
                if len(self._seen) > 4 * (self.lookback + BATCH):
                    self._seen = {i for i in self._seen if i > self.cursor - self.lookback}
            theirs = [c for c in rows if c.origin != self.origin]
            await self._apply(theirs)
            applied += len(theirs)
            self.applied += len(theirs)
            if fetched < BATCH:
                return applied

    async def _apply(self, changes: list[Change]) -> None:
        added: defaultdict[str, list[str]] = defaultdict(list)
        for change in changes:
            match change.kind:
                case "agent":
                    _invalidate(self.store, change.agent_id)
                case "passage_added":
                    if change.passage_id is not None:
                        added[change.agent_id].append(change.passage_id)
                case "passages":
                    added.pop(change.agent_id, None)
                    if self.search is not None:
                        self.search.forget(change.agent_id)
                case "memory_updated":
                    await self._appended(added)
                    await self._memory_updated(change)
        await self._appended(added)

    async def _appended(self, added: defaultdict[str, list[str]]) -> None:
        if self.search is not None:
            for agent_id, passage_ids in added.items():
                passages = await self.store.get_passages(agent_id, passage_ids, with_vectors=True)
                await self.search.index_passages(agent_id, passages)
        added.clear()

    async def _memory_updated(self, change: Change) -> None:
        try:
            agent = await self.store.get_agent(change.agent_id)
        except NotFoundError:
            return
        self.bus.publish_local(MemoryUpdated(agent.id, tuple(agent.blocks), passages_added=change.passages_added,
                                             reason=change.reason, passages_removed=change.passages_removed))


def _invalidate(store: Any, agent_id: str) -> None:
    invalidate = getattr(store, "invalidate", None)  # CachingStore; a bare store caches nothing
    if invalidate is not None:
        invalidate(agent_id)


def change_feed(search_key: web.AppKey[MemorySearch] | None = None
                ) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` running this process's ``ChangeFeed`` (after the store, bus and memory search exist)."""
    from voice_letta.server.keys import BUS, STORE

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        bus = app[BUS]
        if not isinstance(bus, SharedMemoryBus):
            yield
            return
        search = app.get(search_key) if search_key is not None else None
        feed = ChangeFeed(app[STORE], bus, search)
        await feed.start()
        app[CHANGE_FEED] = feed
        task = asyncio.create_task(feed.run(), name="change-feed")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await feed._flush_outbox()

    return ctx


CHANGE_FEED = web.AppKey("change_feed", ChangeFeed)
