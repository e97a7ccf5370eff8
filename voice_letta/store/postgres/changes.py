"""The change log on PostgreSQL: ``ChangesMixin`` of ``PostgresStore`` (triggers: migration 0001).

Rows are written by triggers stamped with ``vl_origin()`` (the connection's ``voice_letta.origin`` setting) and
every insert NOTIFYs ``voice_letta_changes``, so ``wait_for_changes`` (``PgBase``) wakes the feed at once.
"""

from __future__ import annotations

import orjson

from voice_letta.agent.ports import Change
from voice_letta.store.common import change_from_row
from voice_letta.store.postgres.base import PgBase

_COLUMNS = "id, agent_id, kind, origin, payload, at"


class ChangesMixin(PgBase):
    async def record_memory_updated(
        self, agent_id: str, *, passages_added: int, passages_removed: int, reason: str, now: float
    ) -> None:
        payload = orjson.dumps({"passages_added": passages_added, "passages_removed": passages_removed,
                                "reason": reason}).decode()
        await self._exec("record_memory_updated", "INSERT INTO change_log (agent_id, kind, origin, payload, at) "
                         "VALUES ($1, 'memory_updated', $2, $3, $4)", agent_id, self.origin, payload, now)

    async def changes_since(self, after_id: int, *, limit: int = 500) -> list[Change]:
        found = await self._fetch("changes_since", f"SELECT {_COLUMNS} FROM change_log WHERE id > $1 ORDER BY id "
                                  "LIMIT $2", after_id, limit)
        return [change_from_row(r) for r in found]

    async def latest_change_id(self) -> int:
        found = await self._fetch("latest_change_id", "SELECT coalesce(max(id), 0) FROM change_log")
        return int(found[0][0])

    async def prune_changes(self, *, before: float) -> int:
        return await self._exec("prune_changes", "DELETE FROM change_log WHERE at < $1", before)
