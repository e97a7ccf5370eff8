"""``PgBase``: the asyncpg pool of a ``PostgresStore`` and the statement helpers its mixins share.

Every method is one statement on a pooled connection, or one transaction (``_tx``); PostgreSQL itself orders
concurrent writers (row locks, ``FOR UPDATE SKIP LOCKED``, advisory locks), so there is no process-local write
lock as in the SQLite store. Several server processes and machines can share one database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self

import asyncpg

from voice_letta import config as C
from voice_letta.store import rows as R
from voice_letta.store.postgres.db import translate_errors
from voice_letta.store.windows import KnownWindows

log = logging.getLogger(__name__)

CHANNEL = "voice_letta_changes"  # NOTIFYed by the change_log trigger with the writer's origin (migrations 0001, 0005)
COALESCE_S = 0.01  # NOTIFYs that arrive this soon after the first wake the change feed once


def cols(columns: str, alias: str | None = None) -> str:
    return columns if alias is None else ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


def params(columns: str, start: int = 1) -> str:
    return ", ".join(f"${i}" for i in range(start, start + R.column_count(columns)))


async def supersede(db: asyncpg.Connection, agent_id: str, old_ids: Sequence[str], new_id: str, at: float
                    ) -> list[str]:
    """``Store.mark_superseded`` inside the caller's transaction (the same rules as SQLite's)."""
    found = await db.fetch(
        "UPDATE passages SET superseded_by = $1, superseded_at = $2 WHERE agent_id = $3 AND superseded_by IS NULL "
        "AND id = ANY($4::text[]) AND id <> $1 "
        "AND EXISTS (SELECT 1 FROM passages n WHERE n.id = $1 AND n.agent_id = $3) RETURNING id",
        new_id, at, agent_id, list(old_ids))
    return [r[0] for r in found]


def rowcount(status: str) -> int:
    """The row count of an asyncpg command status ('UPDATE 3', 'INSERT 0 1')."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class PgBase:
    # A change-log id is taken at insert and visible at commit: concurrent writers can commit out of order, so the
    # change feed reads a little behind the newest id it has seen (server/changes.py).
    ids_in_commit_order = False

    def __init__(self, pool: asyncpg.Pool, url: str, *, origin: str) -> None:
        self._pool = pool
        self._url = url
        self.origin = origin
        self.keyword_doc_budget = C.KEYWORD_DOC_BUDGET
        self._windows = KnownWindows()  # the agents' in-context windows as this process last saw them (begin_turn)
        self._listener: asyncpg.Connection | None = None
        self._changed = asyncio.Event()
        self._closed = False

    async def _fetch(self, action: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        with translate_errors(action):
            return list(await self._pool.fetch(sql, *args))

    async def _exec(self, action: str, sql: str, *args: Any) -> int:
        with translate_errors(action):
            return rowcount(await self._pool.execute(sql, *args))

    def _evicted(self, agent_id: str, through_seq: int, evicted: int, version: int | None) -> None:
        """After an eviction committed (``vl_evict``): the known window without the evicted rows, if nothing else
        changed it (the count grew by the evicted rows alone)."""
        if evicted:
            self._windows.advance(agent_id, None if version is None else int(version), evicted,
                                  lambda window: [m for m in window if m.seq > through_seq])

    @asynccontextmanager
    async def _tx(self, action: str) -> AsyncIterator[asyncpg.Connection]:
        """One transaction on one pooled connection."""
        with translate_errors(action):
            async with self._pool.acquire() as conn, conn.transaction():
                yield conn

    async def _executemany(self, action: str, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with translate_errors(action):
                await self._pool.executemany(sql, rows)

    # --- notifications of the change log -------------------------------------------------------------------
    @property
    def signals_changes(self) -> bool:
        """True while this store LISTENs: other processes' changes wake ``wait_for_changes`` at once, so the
        change feed needs to read the log only on a wake-up (and rarely, as a safety net)."""
        return self._listener is not None and not self._listener.is_closed()

    async def wait_for_changes(self, timeout_s: float) -> None:
        """Return when another process's change is NOTIFYed, or after ``timeout_s``.

        The NOTIFY payload is the writer's origin (migration 0005): this process's own changes wake nothing. After
        the first NOTIFY it waits ``COALESCE_S`` more, so a burst of them (a memory job's passages, each in its
        own transaction, and its ``memory.updated``) costs the feed one read of the log, not one per NOTIFY.
        """
        if not self.signals_changes:
            try:
                await self._listen()
            except Exception:  # no listener: the feed still polls every timeout_s
                log.warning("could not LISTEN for changes; polling instead", exc_info=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._changed.wait()
                await asyncio.sleep(COALESCE_S)
        self._changed.clear()

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if payload != self.origin:
            self._changed.set()

    async def _listen(self) -> None:
        conn = await asyncpg.connect(self._url, server_settings={"voice_letta.origin": self.origin})
        await conn.add_listener(CHANNEL, self._notified)
        self._listener = conn
        self._changed.set()  # read once now: a NOTIFY sent while there was no listener is lost

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._listener is not None and not self._listener.is_closed():
            with contextlib.suppress(Exception):
                await self._listener.close()
        with translate_errors("closing the database"):
            await self._pool.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
