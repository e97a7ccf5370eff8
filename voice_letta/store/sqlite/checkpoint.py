"""WAL checkpoints off the write path: a background checkpointer per store instead of SQLite's automatic ones.

By default the commit that grows a WAL database's log past 1000 pages also checkpoints it: inside that COMMIT
call it copies the log back into the database file and fsyncs both (milliseconds, tens of them on a busy disk).
Here every COMMIT runs under the cross-process write gate (``base.WriteGate``), so with several worker
processes each automatic checkpoint held off every other process's writers for its whole length. The store's
own connection therefore has automatic checkpoints off (``PRAGMA wal_autocheckpoint=0``, set in ``db.connect``)
and this checkpointer runs a PASSIVE checkpoint every ``interval_s`` on its own connection, on a thread: a
passive checkpoint copies what no reader still needs and never blocks readers or writers (SQLite's
checkpoint lock is not its write lock). Every process runs one; when two overlap, the second finds the
checkpoint lock taken (``SQLITE_BUSY``, no busy wait on this connection) and skips that round. A round is
skipped (one ``stat``, on the round's thread) when the WAL file is as it was after a checkpoint that copied all of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from pathlib import Path

from voice_letta.store.sqlite.walstate import WalState, wal_state

log = logging.getLogger(__name__)


class Checkpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on ``path`` every ``interval_s`` seconds while started."""

    def __init__(self, path: Path, *, interval_s: float) -> None:
        self._path = path
        self.interval_s = interval_s
        self._conn: sqlite3.Connection | None = None
        self._using = threading.Lock()  # a checkpoint on a thread and the closing of its connection never overlap
        self._task: asyncio.Task[None] | None = None
        self.runs = 0  # checkpoints that ran to their end (busy rounds not counted)
        self.last: tuple[int, int] = (0, 0)  # (frames in the log, frames checkpointed) of the last one

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sqlite-checkpointer")

    async def _run(self) -> None:
        wal: str = f"{self._path}-wal"
        done_at: WalState = None
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                done_at = await asyncio.to_thread(self._round, wal, done_at)
            except sqlite3.Error:  # the next round tries again; a WAL that is not copied back only grows
                log.warning("checkpointing %s failed", self._path, exc_info=True)

    def _round(self, wal: str, done_at: WalState) -> WalState:
        """One round on a thread (the ``stat`` of the WAL file too: no file system call on the event loop). The
        WAL's state after a checkpoint that copied all of it, or ``done_at`` as it was."""
        before = wal_state(wal)
        if before is not None and before == done_at:
            return done_at  # nothing written since the last checkpoint copied the whole log
        if self.checkpoint() and self.last[0] == self.last[1]:
            return before
        return done_at

    def checkpoint(self) -> bool:
        """One passive checkpoint (blocking: call it on a thread). False when another one was running."""
        with self._using:
            if self._conn is None:
                self._conn = sqlite3.connect(str(self._path), timeout=0, isolation_level=None,
                                             check_same_thread=False)
            try:
                busy, frames, done = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                    return False
                raise
        if busy:
            return False
        self.runs += 1
        self.last = (int(frames), int(done))
        return True

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._using:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
