"""The store contract for request idempotency keys (``Idempotency-Key`` on the memory write routes).

A key is claimed before the request's work runs and holds the first response once it is done, so a retry of the
same request (the same key and fingerprint) gets that response again and stores nothing twice, on any process of
the database. Keys are per agent (deleted with it) and live ``ttl_s`` from their claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

ClaimOutcome = Literal["claimed", "replay", "mismatch", "running"]


@dataclass(frozen=True, slots=True)
class KeyClaim:
    """What ``claim_request_key`` found: ``claimed`` (new: run the request, then ``finish_request_key``),
    ``replay`` (done before: ``status`` and ``body`` are its first response), ``mismatch`` (the key was used for
    another request) or ``running`` (a request under the key is still running, until ``lease_until``)."""

    outcome: ClaimOutcome
    status: int | None = None
    body: str | None = None
    created_at: float = 0.0
    lease_until: float = 0.0


class RequestKeyStore(Protocol):
    async def claim_request_key(
        self, agent_id: str, key: str, fingerprint: str, *, now: float, ttl_s: float, lease_s: float
    ) -> KeyClaim:
        """Atomically, across processes: a key of the agent claimed more than ``ttl_s`` ago, or a claim whose run
        never finished and whose lease ran out (its process died), is forgotten first; then the key is claimed
        (running until ``now + lease_s``) if free, else what holds it is returned."""
        ...

    async def finish_request_key(self, agent_id: str, key: str, fingerprint: str, *, status: int, body: str
                                 ) -> bool:
        """Record the first response of the claimed key; False when the claim is gone (its lease ran out and
        another run took the key)."""
        ...

    async def release_request_key(self, agent_id: str, key: str, fingerprint: str) -> None:
        """Forget a claim whose request failed (nothing of it was stored): a retry under the key runs again."""
        ...

    async def purge_request_keys(self, *, before: float) -> int:
        """Delete keys claimed before ``before`` (expired); returns how many."""
        ...
