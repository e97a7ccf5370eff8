"""Request idempotency keys (``request_keys``, migration 0022): ``RequestKeysMixin`` of ``SqliteStore``.

``claim_request_key`` is one ``BEGIN IMMEDIATE`` transaction in one thread hop (forget the key if expired or
abandoned, insert it if free, else read it); every process on the file takes the write gate for it, so two
requests with one key never both claim it. The rest are one statement each.
"""

from __future__ import annotations

import sqlite3

from voice_letta.agent.ports import HeldKey, KeyClaim
from voice_letta.store.common import key_claim
from voice_letta.store.sqlite.base import SqliteBase

_FORGET = ("DELETE FROM request_keys WHERE agent_id = ? AND key = ? "
           "AND (created_at < ? OR (status IS NULL AND lease_until <= ?))")
_CLAIM = ("INSERT INTO request_keys (agent_id, key, fingerprint, created_at, lease_until) VALUES (?, ?, ?, ?, ?) "
          "ON CONFLICT (agent_id, key) DO NOTHING")
# the claim made at created_at (any claim when NULL): never one that took the key over after this one's lease ended
FINISH = ("UPDATE request_keys SET status = ?1, body = ?2 WHERE agent_id = ?3 AND key = ?4 AND fingerprint = ?5 "
          "AND status IS NULL AND (?6 IS NULL OR created_at = ?6)")
_RELEASE = ("DELETE FROM request_keys WHERE agent_id = ?1 AND key = ?2 AND fingerprint = ?3 AND status IS NULL "
            "AND (?4 IS NULL OR created_at = ?4)")
_RENEW = ("UPDATE request_keys SET lease_until = ?1 WHERE agent_id = ?2 AND key = ?3 AND fingerprint = ?4 "
          "AND created_at = ?5 AND status IS NULL")
_HELD = "SELECT fingerprint, status, body, created_at, lease_until FROM request_keys WHERE agent_id = ? AND key = ?"


class RequestKeysMixin(SqliteBase):
    async def claim_request_key(
        self, agent_id: str, key: str, fingerprint: str, *, now: float, ttl_s: float, lease_s: float
    ) -> KeyClaim:
        def work(conn: sqlite3.Connection) -> tuple[bool, list[tuple[str, int | None, str | None, float, float]]]:
            conn.execute(_FORGET, (agent_id, key, now - ttl_s, now))
            if conn.execute(_CLAIM, (agent_id, key, fingerprint, now, now + lease_s)).rowcount:
                return True, []
            return False, conn.execute(_HELD, (agent_id, key)).fetchall()

        claimed, held = await self._transaction("claim_request_key", work)
        if claimed:
            return KeyClaim("claimed", created_at=now, lease_until=now + lease_s)
        return key_claim(fingerprint, held[0])

    async def finish_request_key(self, agent_id: str, key: str, fingerprint: str, *, status: int, body: str,
                                 claimed_at: float | None = None) -> bool:
        return bool(await self._exec("finish_request_key", FINISH,
                                     (status, body, agent_id, key, fingerprint, claimed_at)))

    async def renew_request_key(self, held: HeldKey, *, lease_until: float) -> bool:
        return bool(await self._exec("renew_request_key", _RENEW, (lease_until, held.agent_id, held.key,
                                                                   held.fingerprint, held.claimed_at)))

    async def release_request_key(self, agent_id: str, key: str, fingerprint: str, *,
                                  claimed_at: float | None = None) -> None:
        await self._exec("release_request_key", _RELEASE, (agent_id, key, fingerprint, claimed_at))

    async def purge_request_keys(self, *, before: float) -> int:
        return await self._exec("purge_request_keys", "DELETE FROM request_keys WHERE created_at < ?", (before,))
