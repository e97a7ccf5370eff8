"""The state of a database's WAL file, to tell without a query whether anything was committed since a look."""

from __future__ import annotations

import os

WRITE_LOCK_SUFFIX = ".write-lock"  # <db>.write-lock: the file every writer flocks (base.WriteGate)
WalState = tuple[int, int, int] | None  # (inode, size, mtime ns) of the WAL file; None when there is none


def wal_state(path: str) -> WalState:
    """What changes in ``<db>-wal`` with every commit: its size (frames are appended) or, once a writer restarts
    the log after a checkpoint, its modification time; a new file (the last connection deleted it) a new inode.
    One ``stat`` of a local file, made on a thread (the checkpointer's round, the change feed's poll)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)
