"""The store contract for request idempotency keys (``Idempotency-Key`` on the memory write routes).

A key is claimed before the request's work runs and holds the first response once it is done, so a retry of the
same request (the same key and fingerprint) gets that response again and stores nothing twice, on any process of
the database. Keys are per agent (deleted with it) and live ``ttl_s`` from their claim.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from voice_letta.agent.models import Message, Passage
from voice_letta.agent.ports.store.jobs import MemoryJob

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


@dataclass(frozen=True, slots=True)
class HeldKey:
    """A key one request claimed (``claim_request_key`` said ``claimed`` at ``claimed_at``): only that claim is
    finished or released by it, never a later one that took the key over after its lease ran out."""

    agent_id: str
    key: str
    fingerprint: str
    claimed_at: float


@dataclass(frozen=True, slots=True)
class KeyedPassages:
    """``write_passages`` under a claimed key: ``respond(stored, superseded)`` makes the first response (status,
    JSON text), recorded under ``held`` in the write's own transaction (both or neither: a process that dies in
    between leaves neither the passages nor the response, and a retry runs the request again)."""

    held: HeldKey
    respond: Callable[[list[Passage], list[list[str]]], tuple[int, str]]


@dataclass(frozen=True, slots=True)
class KeyedImport:
    """``import_messages`` under a claimed key: ``respond(stored, jobs)`` makes the first response (status, JSON
    text), recorded under ``held`` in the import's own transaction with its lines and their memory jobs (all or
    nothing: a retry after a crash is the replay, or runs the import as the first attempt would have)."""

    held: HeldKey
    respond: Callable[[list[Message], list[MemoryJob]], tuple[int, str]]


class KeyClaimLost(Exception):
    """The claim ended before the write that would finish it (its lease ran out and another request took the key
    over): the write was rolled back, nothing of it is stored."""


class RequestKeyStore(Protocol):
    async def claim_request_key(
        self, agent_id: str, key: str, fingerprint: str, *, now: float, ttl_s: float, lease_s: float
    ) -> KeyClaim:
        """Atomically, across processes: a key of the agent claimed more than ``ttl_s`` ago, or a claim whose run
        never finished and whose lease ran out (its process died), is forgotten first; then the key is claimed
        (running until ``now + lease_s``) if free, else what holds it is returned."""
        ...

    async def finish_request_key(self, agent_id: str, key: str, fingerprint: str, *, status: int, body: str,
                                 claimed_at: float | None = None) -> bool:
        """Record the first response of the claimed key (of the claim made at ``claimed_at``, when given); False
        when the claim is gone (its lease ran out and another run took the key)."""
        ...

    async def renew_request_key(self, held: HeldKey, *, lease_until: float) -> bool:
        """Move the lease of a claim whose request still runs to ``lease_until``; False when the claim is gone
        (finished, released, or taken over after its lease ran out)."""
        ...

    async def release_request_key(self, agent_id: str, key: str, fingerprint: str, *,
                                  claimed_at: float | None = None) -> None:
        """Forget a claim (the one made at ``claimed_at``, when given) whose request failed (nothing of it was
        stored): a retry under the key runs again."""
        ...

    async def purge_request_keys(self, *, before: float) -> int:
        """Delete keys claimed before ``before`` (expired); returns how many."""
        ...
