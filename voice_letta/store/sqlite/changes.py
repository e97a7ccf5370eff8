"""The change log (migrations 0004, 0005): ``ChangesMixin`` of ``SqliteStore``.

Triggers add the rows of agent, block, tool and passage writes in the writer's own transaction, stamped with
``vl_origin()`` (this connection's worker id); ``record_memory_updated`` adds the rows that tell live sessions
in other processes about a memory change. Each process reads the rows after the last one it saw
(``changes_since``) and skips its own (``server/changes.py``).
"""

from __future__ import annotations

import asyncio

import orjson

from voice_letta.agent.ports import Change
from voice_letta.store.common import change_from_row
from voice_letta.store.sqlite.base import SqliteBase

_COLUMNS = "id, agent_id, kind, origin, payload, at"


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
        await asyncio.sleep(timeout_s)  # SQLite has no notifications: the feed polls

    async def prune_changes(self, *, before: float) -> int:
        return await self._exec("prune_changes", "DELETE FROM change_log WHERE at < ?", (before,))
