"""The store contract for memory jobs (the durable sleeptime hand-off; see agent/memory_manager.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from voice_letta import config as C
from voice_letta.agent.models import Passage

JobKind = Literal["eviction", "session_end", "import"]
JobStatus = Literal["pending", "running", "done", "failed"]


@dataclass(frozen=True, slots=True)
class HandoffRange:
    """Which messages a hand-off covers, by ``seq``: ``older`` lines are archived, ``newer`` only inform."""

    older_from_seq: int
    older_through_seq: int
    newer_from_seq: int | None = None
    newer_through_seq: int | None = None
    # An import's message too long for one run is handed over in pieces (agent/imports.py): the job archives the
    # characters [from_char, to_char) of the content of its one message (older_from_seq == older_through_seq).
    from_char: int | None = None
    to_char: int | None = None


@dataclass(frozen=True, slots=True)
class MemoryJob:
    id: int
    agent_id: str
    kind: JobKind
    payload: HandoffRange
    through_seq: int
    status: JobStatus
    attempts: int
    run_after: float
    created_at: float
    updated_at: float
    error: str | None = None
    crashes: int = 0  # runs cut short by a crash or a shutdown: they are not failures

    @property
    def failures(self) -> int:
        """Runs that failed (or the one running now): what counts against the retry limit."""
        return self.attempts - self.crashes


class JobStore(Protocol):
    """Memory jobs: enqueued by turns and session ends, leased to the worker that runs them."""

    async def enqueue_memory_job(
        self, agent_id: str, kind: JobKind, payload: HandoffRange, *, through_seq: int,
        evict_through_seq: int | None = None, now: float,
    ) -> MemoryJob:
        """Insert a pending job and (same transaction) evict messages through ``evict_through_seq``.

        ConflictError, writing nothing, when a job of the agent already handed over ``payload.older_from_seq``."""
        ...

    async def handoff_watermark(self, agent_id: str) -> int:
        """The newest message seq already handed over by any job of the agent (0 if none)."""
        ...

    async def claim_memory_job(
        self, *, now: float, holder: str = "", lease_s: float = C.AGENT_LEASE_S, affinity_s: float = 0.0
    ) -> MemoryJob | None:
        """Atomically move the oldest due pending job of an agent with no running job (or a running job whose
        lease ran out) to 'running', leased to ``holder`` until ``now + lease_s``.

        ``affinity_s``: a pending job of an agent whose turn lease another worker holds, or took less than a lease
        period ago, is left to that worker until it has been due for ``affinity_s`` seconds (then, or once that
        worker was reaped by ``release_holder``, anyone takes it). Jobs run where the agent's caches and index are
        warm, and their writes do not invalidate another worker's."""
        ...

    async def complete_memory_job(self, job_id: int, *, now: float, attempt: int | None = None) -> bool:
        """'done', unless (with ``attempt``) the job was claimed again since: then False and nothing changes."""
        ...

    async def fail_memory_job(
        self, job_id: int, error: str, *, retry_at: float | None, now: float, attempt: int | None = None
    ) -> None:
        """Back to 'pending' (due at ``retry_at``) or, with ``retry_at=None``, 'failed' for good (fenced like
        ``complete_memory_job``)."""
        ...

    async def release_memory_job(self, job_id: int, *, now: float, attempt: int | None = None) -> None:
        """A running job handed back unfinished (shutdown): pending again at once, not counted as a failure."""
        ...

    async def requeue_running_jobs(self, *, now: float) -> int:
        """Jobs left 'running' whose lease ran out (their process died) go back to 'pending'."""
        ...

    async def list_memory_jobs(self, agent_id: str, *, limit: int = 50) -> list[MemoryJob]: ...
    async def insert_job_passages(self, job_id: int, passages: Sequence[tuple[str, Passage]], *,
                                  supersedes: Mapping[str, Sequence[str]] | None = None) -> list[str]:
        """Insert a job's (chunk_key, passage) pairs in one transaction; nothing if the job already has some.
        ``supersedes`` (chunk_key -> ids of the agent's earlier passages) marks those as superseded by the chunk's
        passage in the same transaction (``mark_superseded``).

        Returns the ids of the passages inserted now (a re-run of a job inserts nothing twice)."""
        ...
