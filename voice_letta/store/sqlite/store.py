"""``SqliteStore``: the ``agent.ports.Store`` on one SQLite file through one aiosqlite connection.

The class is composed of one mixin per concern, all sharing ``SqliteBase`` (the connection and its write
lock): ``agents`` (agents, blocks, tools), ``messages``, ``turns`` (turn records and the agent lease),
``passages`` (archival passages and vectors), ``search`` (FTS5 keyword search), ``jobs`` (the sleeptime
hand-off queue), ``changes`` (the change log other processes read), ``request_keys`` (Idempotency-Key
records). Row codecs live in ``store/rows.py`` and the backend-neutral rules of the contract in ``store/common.py``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from voice_letta import config as C
from voice_letta import ids
from voice_letta.store.sqlite.agents import AgentsMixin
from voice_letta.store.sqlite.base import WriteGate
from voice_letta.store.sqlite.changes import ChangesMixin
from voice_letta.store.sqlite.checkpoint import Checkpointer
from voice_letta.store.sqlite.db import connect, migrate
from voice_letta.store.sqlite.imports import ImportsMixin
from voice_letta.store.sqlite.jobs import JobsMixin
from voice_letta.store.sqlite.messages import MessagesMixin
from voice_letta.store.sqlite.passages import PassagesMixin
from voice_letta.store.sqlite.request_keys import RequestKeysMixin
from voice_letta.store.sqlite.search import SearchMixin
from voice_letta.store.sqlite.turns import TurnsMixin


class SqliteStore(AgentsMixin, MessagesMixin, ImportsMixin, TurnsMixin, PassagesMixin, SearchMixin, JobsMixin,
                  ChangesMixin, RequestKeysMixin):
    """Implements ``voice_letta.agent.ports.Store``. Build it with ``open_store(path)``."""


async def open_store(path: str | Path, *, origin: str | None = None) -> SqliteStore:
    """Open (creating it and its parent directories if needed) and migrate the database at ``path``.

    ``origin`` names this process in the change log (default: ``ids.worker_id()``); tests that play two
    processes in one give each store its own.
    """
    path = Path(path)
    if str(path) != ":memory:":
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    origin = origin or ids.worker_id()
    gate = WriteGate(path)
    try:
        conn = await connect(path, origin=origin, writes=lambda: gate.writes)
    except BaseException:
        gate.close()
        raise
    try:
        await migrate(conn)
        if str(path) != ":memory:":
            await conn.execute("PRAGMA wal_autocheckpoint=0")  # the store's Checkpointer does it (checkpoint.py)
    except BaseException:
        gate.close()
        await asyncio.shield(conn.close())
        raise
    store = SqliteStore(conn, path, origin=origin, gate=gate)
    if str(path) != ":memory:":
        store.checkpointer = Checkpointer(path, interval_s=C.SQLITE_CHECKPOINT_S)
        store.checkpointer.start()
    return store
