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

The log starts again from its first frame only when a transaction begins while every frame in it is copied back.
A passive checkpoint copies the log as it was when the checkpoint began (and reports that length as all copied);
under steady writes a commit lands while it copies and syncs, so the log never started again and grew by every
frame written: 11 -> 192 MB in 12 s of bench/http_latency.py's one-stream case (~23 frames a turn), all of which
SQLite reads again after a crash. So a round that finds the log ``restart_frames`` or more long finishes with a
second passive checkpoint under the write gate (``base.WriteGate``: every writer of every process takes it for
its transaction): no commit lands while it copies the frames written during the first, so it copies all and the
next transaction starts the log again (the same bench: 25-28 MB). Writers wait for it, once per
``restart_frames`` of log (16 MB), not every round: the frames of one round and two syncs (8-30 ms, once 89, at
load ~12 under a scratch writer of 1,500 transactions a second).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
from pathlib import Path

from voice_letta.store.sqlite.walstate import WRITE_LOCK_SUFFIX, WalState, wal_state

log = logging.getLogger(__name__)

RESTART_FRAMES = 4096  # frames (16 MB of 4 KB pages) a round may leave in the log before it finishes under the gate


class Checkpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on ``path`` every ``interval_s`` seconds while started."""

    def __init__(self, path: Path, *, interval_s: float, restart_frames: int = RESTART_FRAMES) -> None:
        self._path = path
        self.interval_s = interval_s
        self.restart_frames = restart_frames
        self._gate_fd = -1  # its own open of the write gate's file: an flock on it excludes this process's store too
        self.restarts = 0  # rounds finished under the write gate with the whole log copied
        self._conn: sqlite3.Connection | None = None
        # a round on a thread and the closing of its connection and gate file never overlap (re-entered: a round's
        # gated checkpoint)
        self._using = threading.RLock()
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
        if not self.checkpoint():
            return done_at
        frames, copied = self.last
        if frames >= self.restart_frames:
            return self._finish_under_gate(wal, done_at)
        return before if frames == copied else done_at

    def _finish_under_gate(self, wal: str, done_at: WalState) -> WalState:
        """A second passive checkpoint with every writer held off: it copies what the first left (written while that
        one ran), so the log is copied whole and the next transaction starts it again."""
        with self._using:
            if self._gate_fd < 0:
                self._gate_fd = os.open(f"{self._path}{WRITE_LOCK_SUFFIX}",
                                        os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(self._gate_fd, fcntl.LOCK_EX)
            try:
                now = wal_state(wal)  # nothing changes the log while the gate is held
                if self.checkpoint() and self.last[0] == self.last[1]:
                    self.restarts += 1
                    return now
                return done_at
            finally:
                fcntl.flock(self._gate_fd, fcntl.LOCK_UN)

    def checkpoint(self) -> bool:
        """One passive checkpoint (blocking: call it on a thread). False when another one was running."""
        with self._using:
            if self._conn is None:
                self._conn = sqlite3.connect(str(self._path), timeout=0, isolation_level=None,
                                             check_same_thread=False)
            try:
                [(busy, frames, done)] = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
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
            if self._gate_fd >= 0:
                os.close(self._gate_fd)
                self._gate_fd = -1
