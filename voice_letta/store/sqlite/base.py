"""``SqliteBase``: the one aiosqlite connection of a ``SqliteStore``, its write lock, and the SQL helpers the
per-concern modules (``agents``, ``messages``, ``passages``, ``jobs``) share.

Concurrency and latency: aiosqlite runs every statement on its own worker thread, in order, and every
await is one thread round trip, so hot-path methods are one statement each. All writes hold an
``asyncio.Lock`` (``_locked``); multi-statement writes run as ``BEGIN IMMEDIATE … COMMIT`` under it
(``_write``), so a single statement never lands inside another task's transaction. Reads do not take the
lock; a read that lands between two statements of such a transaction sees its rows. Every module's writes go
through these helpers, so that invariant lives here and nowhere else.

Across processes (``serve --workers N``, or two ``serve`` on one file) every write also holds an advisory
``flock`` on ``<db>.write-lock`` (``WriteGate``), taken on aiosqlite's thread in the same hop as the statement
or the ``BEGIN IMMEDIATE``. SQLite alone would serialize the writers too, but a writer that finds the database
locked sleeps in its busy handler (1, 2, 5, 10 … ms) and retries, so with two busy workers a turn waited
milliseconds for a lock held for tens of microseconds and two workers did fewer turns/s than one
(docs/benchmarks.md). A waiter on the ``flock`` wakes the moment it is released. The busy timeout stays for
other programs that open the file.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import aiosqlite

from voice_letta import config as C
from voice_letta.store import rows as R
from voice_letta.store.sqlite.checkpoint import Checkpointer
from voice_letta.store.sqlite.db import translate_errors
from voice_letta.store.sqlite.walstate import WRITE_LOCK_SUFFIX, WalState, wal_state
from voice_letta.store.sqlite.windows import HistoryRows

_T = TypeVar("_T")
_U = TypeVar("_U")


def _identity(conn: sqlite3.Connection, result: _T) -> _T:
    return result

# SQLite binds at most 32766 variables per statement; bigger batches are split inside one transaction.
MAX_BOUND_VARS = 30_000

SELECT_BLOCK = f"SELECT {R.BLOCK_COLUMNS} FROM blocks"
SELECT_MESSAGE = f"SELECT {R.MESSAGE_COLUMNS} FROM messages"
SELECT_TOOL = f"SELECT {R.TOOL_COLUMNS} FROM tools"


def qualified(columns: str, alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


def values(width: int, rows: int) -> str:
    one = "(" + ", ".join("?" * width) + ")"
    return ", ".join([one] * rows)


@functools.lru_cache(maxsize=64)
def insert_sql(table: str, columns: str, rows: int) -> str:
    return f"INSERT INTO {table} ({columns}) VALUES {values(R.column_count(columns), rows)}"


async def exists(db: aiosqlite.Connection, sql: str, *params: Any) -> bool:
    return bool(list(await db.execute_fetchall(sql, params)))


async def supersede(db: aiosqlite.Connection, agent_id: str, old_ids: Sequence[str], new_id: str, at: float
                    ) -> list[str]:
    """``Store.mark_superseded`` inside the caller's write transaction: only the agent's own passages, only those
    not superseded yet, and only when ``new_id`` is one of the agent's passages."""
    found = await db.execute_fetchall(
        f"UPDATE passages SET superseded_by = ?, superseded_at = ? WHERE agent_id = ? AND superseded_by IS NULL "
        f"AND id IN ({', '.join('?' * len(old_ids))}) AND id != ? "
        "AND EXISTS (SELECT 1 FROM passages n WHERE n.id = ? AND n.agent_id = ?) RETURNING id",
        (new_id, at, agent_id, *old_ids, new_id, new_id, agent_id))
    return [r[0] for r in found]


class WriteGate:
    """The cross-process write lock of one database file: an exclusive ``flock`` on ``<db>.write-lock``.

    ``acquire``/``release`` block and so run on aiosqlite's thread, never on the event loop. Within a process the
    store's ``asyncio.Lock`` already serializes writers, so the gate is only ever contended by other processes
    (or by another store on the same file). An in-memory database has no other process: the gate is a no-op.

    It also tells whether another connection may have committed since this process last looked
    (``others_wrote``), so the change feed reads the change log only then: ``seen`` is the WAL file's state after
    the last read of the log or after this store's own commit, the latter only when the WAL was still as last
    seen when the commit took the gate (nothing of another writer's in between: they take the gate too).
    """

    def __init__(self, path: Path) -> None:
        self._fd = -1
        # Writes through this gate so far: the SQL function vl_write() on the store's connection, which the
        # change-log triggers use to fold one transaction's passage changes into one row (migration 0012).
        self.writes = 0
        self._wal = f"{path}-wal"
        self.seen: WalState = None
        self._before: WalState = None
        if str(path) != ":memory:":
            self._fd = os.open(f"{path}{WRITE_LOCK_SUFFIX}", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def acquire(self) -> None:
        self.writes += 1
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._before = wal_state(self._wal)

    def release(self) -> None:
        if self._fd >= 0:
            if self._before == self.seen:
                self.seen = wal_state(self._wal)  # only this store's commit since the feed last looked
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def others_wrote(self) -> bool:
        """Did the WAL change since ``seen`` (another process's commit)? Marks the current state seen: call it just
        before reading what changed. A single ``stat`` of the local ``-wal`` file (see ``wait_for_changes``)."""
        if self._fd < 0:
            return False
        now = wal_state(self._wal)
        if now == self.seen:
            return False
        self.seen = now
        return True

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class _KeptFuture(asyncio.Future[_T]):
    """A future that cannot be cancelled: a task awaiting it is cancelled only once its result is in (the work it
    stands for, queued on aiosqlite's thread, runs whatever the caller does)."""

    def cancel(self, msg: Any | None = None) -> bool:
        return False


class SqliteBase:
    """The connection, the write lock and the statement helpers. Built by ``open_store``."""

    ids_in_commit_order = True  # writers take turns (the write gate): a change-log id is never read before a lower one

    def __init__(self, conn: aiosqlite.Connection, path: Path, *, origin: str = "", gate: WriteGate | None = None
                 ) -> None:
        self._db = conn
        self._path = path
        self.origin = origin  # this process in the change log (``vl_origin()`` on the connection)
        self._write_lock = asyncio.Lock()
        self._gate = gate or WriteGate(path)
        self.checkpointer: Checkpointer | None = None  # started by open_store for a database file
        self._closed = False
        self.keyword_doc_budget = C.KEYWORD_DOC_BUDGET
        self._windows = HistoryRows()  # the agents' in-context windows as this store last saw them (its thread only)

    @property
    def path(self) -> Path:
        return self._path

    async def _fetch(self, action: str, sql: str, params: Sequence[Any] = ()) -> list[R.Row]:
        with translate_errors(action):
            return list(await self._db.execute_fetchall(sql, params))

    @asynccontextmanager
    async def _locked(self, action: str) -> AsyncIterator[aiosqlite.Connection]:
        """Hold this process's write lock only (reads that must not interleave with our own writes). A write
        statement in here would wait for other processes in SQLite's busy handler: write through ``_write``,
        ``_transaction``, ``_exec`` or ``_exec_returning`` instead."""
        async with self._write_lock:
            with translate_errors(action):
                yield self._db

    @asynccontextmanager
    async def _write(self, action: str) -> AsyncIterator[aiosqlite.Connection]:
        """A multi-statement write transaction, serialized with every other write of this store."""
        async with self._locked(action) as db:
            conn = db._conn
            gate = self._gate

            def begin() -> None:
                gate.acquire()
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except BaseException:
                    gate.release()
                    raise

            def commit() -> None:
                conn.execute("COMMIT")
                gate.release()

            def rollback() -> None:
                try:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                finally:
                    gate.release()

            try:
                await db._execute(begin)  # type: ignore[no-untyped-call]
                yield db
                await db._execute(commit)  # type: ignore[no-untyped-call]
            except BaseException:
                await asyncio.shield(self._quietly(rollback))
                raise

    async def _quietly(self, fn: Callable[[], None]) -> None:
        try:
            await self._db._execute(fn)  # type: ignore[no-untyped-call]
        except (sqlite3.Error, ValueError):
            pass

    async def _transaction(self, action: str, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``work`` inside ``BEGIN IMMEDIATE … COMMIT`` on the connection's own thread: one thread hop for a
        whole transaction, where ``_write`` costs one per statement. The hops, not the SQL, are what a turn's
        store work costs (docs/benchmarks.md), so the per-turn transactions (``begin_turn``, ``end_turn``) use
        this. ``work`` runs on aiosqlite's worker thread with the plain ``sqlite3`` connection; it must not touch
        the event loop. (aiosqlite's ``_execute`` is how its own methods reach that thread.)
        """
        return await self._transaction_then(action, work, _identity)

    async def _transaction_then(
        self, action: str, work: Callable[[sqlite3.Connection], _T], then: Callable[[sqlite3.Connection, _T], _U]
    ) -> _U:
        """``_transaction``, then ``then(conn, result)`` in the same thread hop once the transaction committed and
        the write lock is free again: reads and row decoding that need not hold off other processes' writers.

        Keep ``work`` to its statements: every statement gives up the GIL while SQLite runs it and must win it back
        from the event loop (up to ``sys.getswitchinterval()`` while the loop is busy), and all that time every
        other process that wants to write waits on the gate. Build parameters before, decode rows in ``then``.
        """

        async with self._locked(action):
            done: _U = await self._db._execute(self._run_transaction(work, then))  # type: ignore[no-untyped-call]
            return done

    def _run_transaction(
        self, work: Callable[[sqlite3.Connection], _T], then: Callable[[sqlite3.Connection, _T], _U]
    ) -> Callable[[], _U]:
        """The function the connection's thread runs for ``_transaction_then`` / ``_transaction_kept``: the write
        gate, ``BEGIN IMMEDIATE``, ``work``, ``COMMIT`` (``ROLLBACK`` if it raised), the gate released, ``then``."""
        gate = self._gate
        db = self._db

        def run() -> _U:
            conn = db._conn
            gate.acquire()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = work(conn)
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                gate.release()
            return then(conn, result)

        return run

    async def _transaction_kept(
        self, action: str, work: Callable[[sqlite3.Connection], _T], then: Callable[[sqlite3.Connection, _T], _U],
        cancelled: Callable[[_U], BaseException],
    ) -> _U:
        """``_transaction_then`` that, once queued on the connection's thread, runs to its end even when the caller
        is cancelled, and then raises ``cancelled(result)`` (a cancellation that says what the transaction did).

        The caller awaits a future that refuses to be cancelled (``_KeptFuture``): the task's cancellation is
        delivered when the result is in. A shielded task around the call did the same for ``begin_turn`` at the
        cost of a task and two more trips through the event loop every turn.
        """
        db = self._db
        run = self._run_transaction(work, then)
        async with self._locked(action):
            if not db._running or db._connection is None:
                raise ValueError("Connection closed")  # as aiosqlite's own ``_execute``: translated to StorageError
            kept: _KeptFuture[_U] = _KeptFuture(loop=asyncio.get_running_loop())
            db._tx.put_nowait((kept, run))
            try:
                return await kept
            except asyncio.CancelledError:
                if kept.done() and kept.exception() is None:
                    raise cancelled(kept.result()) from None
                raise

    async def _exec(self, action: str, sql: str, params: Sequence[Any] = ()) -> int:
        """One autocommitted write statement (one thread hop); returns how many rows it changed."""
        db = self._db
        gate = self._gate

        def run() -> int:
            conn = db._conn
            gate.acquire()
            try:
                return conn.execute(sql, params).rowcount
            finally:
                gate.release()

        async with self._locked(action):
            count: int = await self._db._execute(run)  # type: ignore[no-untyped-call]
            return count

    async def _exec_returning(self, action: str, sql: str, params: Sequence[Any] = ()) -> list[R.Row]:
        """One autocommitted write statement with a ``RETURNING`` clause."""
        db = self._db
        gate = self._gate

        def run() -> list[R.Row]:
            conn = db._conn
            gate.acquire()
            try:
                return conn.execute(sql, params).fetchall()
            finally:
                gate.release()

        async with self._locked(action):
            rows: list[R.Row] = await self._db._execute(run)  # type: ignore[no-untyped-call]
            return rows

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.checkpointer is not None:
            await self.checkpointer.aclose()
        async with self._write_lock:
            try:
                await self._db.execute("PRAGMA optimize")
            except (sqlite3.Error, ValueError):
                pass
            with translate_errors("closing the database"):
                try:
                    await self._db.close()
                finally:
                    self._gate.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
