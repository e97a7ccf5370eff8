"""Request idempotency keys on PostgreSQL (``request_keys``, migration 0017): ``RequestKeysMixin``.

The rules are those of ``store/sqlite/request_keys.py``. ``claim_request_key`` is one transaction: a second
request with the same key waits on the first one's uncommitted insert (the primary key), then finds its row.
"""

from __future__ import annotations

from voice_letta.agent.ports import HeldKey, KeyClaim
from voice_letta.store.common import key_claim
from voice_letta.store.postgres.base import PgBase

_FORGET = ("DELETE FROM request_keys WHERE agent_id = $1 AND key = $2 "
           "AND (created_at < $3 OR (status IS NULL AND lease_until <= $4))")
_CLAIM = ("INSERT INTO request_keys (agent_id, key, fingerprint, created_at, lease_until) VALUES ($1, $2, $3, $4, $5) "
          "ON CONFLICT (agent_id, key) DO NOTHING RETURNING 1")
# the claim made at created_at (any claim when NULL): never one that took the key over after this one's lease ended
FINISH = ("UPDATE request_keys SET status = $1, body = $2 WHERE agent_id = $3 AND key = $4 AND fingerprint = $5 "
          "AND status IS NULL AND ($6::double precision IS NULL OR created_at = $6)")
_RELEASE = ("DELETE FROM request_keys WHERE agent_id = $1 AND key = $2 AND fingerprint = $3 AND status IS NULL "
            "AND ($4::double precision IS NULL OR created_at = $4)")
_RENEW = ("UPDATE request_keys SET lease_until = $1 WHERE agent_id = $2 AND key = $3 AND fingerprint = $4 "
          "AND created_at = $5 AND status IS NULL")
_HELD = ("SELECT fingerprint, status, body, created_at, lease_until FROM request_keys "
         "WHERE agent_id = $1 AND key = $2")


class RequestKeysMixin(PgBase):
    async def claim_request_key(
        self, agent_id: str, key: str, fingerprint: str, *, now: float, ttl_s: float, lease_s: float
    ) -> KeyClaim:
        for _ in range(3):
            async with self._tx("claim_request_key") as conn:
                await conn.execute(_FORGET, agent_id, key, now - ttl_s, now)
                if await conn.fetchval(_CLAIM, agent_id, key, fingerprint, now, now + lease_s):
                    return KeyClaim("claimed", created_at=now, lease_until=now + lease_s)
                held = await conn.fetchrow(_HELD, agent_id, key)
            if held is not None:
                return key_claim(fingerprint, tuple(held))
            # the claim we ran into was released (its request failed) between our insert and our read: claim again
        return KeyClaim("running", created_at=now, lease_until=now + lease_s)

    async def finish_request_key(self, agent_id: str, key: str, fingerprint: str, *, status: int, body: str,
                                 claimed_at: float | None = None) -> bool:
        return bool(await self._exec("finish_request_key", FINISH, status, body, agent_id, key, fingerprint,
                                     claimed_at))

    async def renew_request_key(self, held: HeldKey, *, lease_until: float) -> bool:
        return bool(await self._exec("renew_request_key", _RENEW, lease_until, held.agent_id, held.key,
                                     held.fingerprint, held.claimed_at))

    async def release_request_key(self, agent_id: str, key: str, fingerprint: str, *,
                                  claimed_at: float | None = None) -> None:
        await self._exec("release_request_key", _RELEASE, agent_id, key, fingerprint, claimed_at)

    async def purge_request_keys(self, *, before: float) -> int:
        return await self._exec("purge_request_keys", "DELETE FROM request_keys WHERE created_at < $1", before)
