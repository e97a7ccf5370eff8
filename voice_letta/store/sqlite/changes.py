"""The change log (migrations 0004, 0005): ``ChangesMixin`` of ``SqliteStore``.

Triggers add the rows of agent, block, tool and passage writes in the writer's own transaction, stamped with
``vl_origin()`` (this connection's worker id); ``record_memory_updated`` adds the rows that tell live sessions
in other processes about a memory change. Each process reads the rows after the last one it saw
(``changes_since``) and skips its own (``server/changes.py``), when the WAL file shows another process wrote.
"""

from __future__ import annotations

import asyncio

import orjson

from voice_letta.agent.ports import Change
from voice_letta.store.common import change_from_row
from voice_letta.store.sqlite.base import SqliteBase

_COLUMNS = "id, agent_id, kind, origin, payload, at"
FULL_POLL_S = 2.0  # the change log is read at least this often (a writer that does not take the write gate)


class ChangesMixin(SqliteBase):
    async def record_memory_updated(
        self, agent_id: str, *, passages_added: int, passages_removed: int, reason: str, now: float
    ) -> None:
        payload = orjson.dumps({"passages_added": passages_added, "passages_removed": passages_removed,
                                "reason": reason}).decode()
        await self._exec(
            "record_memory_updated",
            "INSERT INTO change_log (agent_id, kind, origin, payload, at) VALUES (?, 'memory_updated', ?, ?, ?)",
            (agent_id, self.origin, payload, now),
        )

    async def changes_since(self, after_id: int, *, limit: int = 500) -> list[Change]:
        found = await self._fetch(
            "changes_since", f"SELECT {_COLUMNS} FROM change_log WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit))
        return [change_from_row(r) for r in found]

    async def latest_change_id(self) -> int:
        found = await self._fetch("latest_change_id", "SELECT coalesce(max(id), 0) FROM change_log")
        return int(found[0][0])

    async def wait_for_changes(self, timeout_s: float) -> None:
        """SQLite has no notifications: check every ``timeout_s`` whether the WAL file changed other than by this
        store's own commits (``WriteGate.others_wrote``), and return when it did, or at the latest after
        ``FULL_POLL_S``. Before, the feed read the log every 0.1 s through the store's thread: ~1 ms of CPU each time
        on an idle server, 10 ms/s.

        The check is one ``stat`` of the ``-wal`` file, made on the event loop: WAL mode needs the database on a
        local file system (its index is shared memory; SQLite refuses network file systems for it), so it is a
        lookup in the kernel's inode cache (~2 us), not I/O. Made through a thread, it cost each poll two thread
        wake-ups: ~2 ms/s on a loaded 2-core machine, 2-4 % of a paced turn's CPU (docs/benchmarks.md)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout_s, FULL_POLL_S)
        while True:
            await asyncio.sleep(timeout_s)
            if self._gate.others_wrote() or loop.time() >= deadline:
                return

    async def prune_changes(self, *, before: float) -> int:
        return await self._exec("prune_changes", "DELETE FROM change_log WHERE at < ?", (before,))
