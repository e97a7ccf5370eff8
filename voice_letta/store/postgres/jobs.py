"""The sleeptime hand-off queue on PostgreSQL: ``JobsMixin`` of ``PostgresStore``.

Claims take the job row ``FOR UPDATE SKIP LOCKED``, so workers on any number of machines claim different jobs
without waiting on each other; the partial unique index on running jobs keeps one running job per agent. Other
rules (leases, fencing on ``attempts``, crash accounting) are those of ``store/sqlite/jobs.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import asyncpg
import orjson

from voice_letta import config as C
from voice_letta.agent.models import Passage
from voice_letta.agent.ports import HandoffRange, JobKind, MemoryJob
from voice_letta.errors import ConflictError
from voice_letta.store import rows as R
from voice_letta.store.common import JOB_COLUMNS, job_from_row, passage_rows
from voice_letta.store.postgres.base import PgBase, params, supersede

_CLAIM = (
    "UPDATE memory_jobs SET status = 'running', attempts = attempts + 1, updated_at = $1, claimed_by = $2, "
    "crashes = crashes + (CASE WHEN status = 'running' THEN 1 ELSE 0 END), lease_until = $3 "
    "WHERE id = (SELECT j.id FROM memory_jobs j WHERE (j.status = 'running' AND coalesce(j.lease_until, 0) <= $1) "
    "OR (j.status = 'pending' AND j.run_after <= $1 "
    "AND NOT EXISTS (SELECT 1 FROM memory_jobs r WHERE r.agent_id = j.agent_id AND r.status = 'running') "
    "AND NOT EXISTS (SELECT 1 FROM memory_jobs o WHERE o.agent_id = j.agent_id AND o.id < j.id "
    "AND o.status = 'pending') AND (j.run_after <= $4 OR NOT EXISTS (SELECT 1 FROM agent_leases l "
    "WHERE l.agent_id = j.agent_id AND l.holder NOT IN ($2, '') AND l.expires_at > $1))) "
    "ORDER BY (j.status = 'running') DESC, j.run_after, j.id LIMIT 1 "
    "FOR UPDATE SKIP LOCKED) "
    f"AND (status = 'pending' OR coalesce(lease_until, 0) <= $1) RETURNING {JOB_COLUMNS}"
)


_ENQUEUE = "SELECT * FROM vl_enqueue_memory_job($1, $2, $3, $4, $5, $6, $7)"


class JobsMixin(PgBase):
    async def enqueue_memory_job(
        self, agent_id: str, kind: JobKind, payload: HandoffRange, *, through_seq: int,
        evict_through_seq: int | None = None, now: float,
    ) -> MemoryJob:
        """One round trip: the server-side function ``vl_enqueue_memory_job`` (migration 0015) takes the agent's
        hand-off lock, checks the watermark, evicts and inserts in one transaction (it was BEGIN, four statements and
        COMMIT); the eviction's count of window changes keeps the window this process knows (``KnownWindows``)."""
        found = await self._fetch(
            "enqueue_memory_job", _ENQUEUE, agent_id, kind, orjson.dumps(dataclasses.asdict(payload)).decode(),
            through_seq, payload.older_from_seq, evict_through_seq, now)
        if not found:
            raise ConflictError(f"agent {agent_id}: seq {payload.older_from_seq} was already handed over")
        row = found[0]
        if evict_through_seq is not None:
            self._evicted(agent_id, evict_through_seq, int(row[12]), row[13])
        return job_from_row(row)

    async def handoff_watermark(self, agent_id: str) -> int:
        found = await self._fetch("handoff_watermark",
                                  "SELECT coalesce(max(through_seq), 0) FROM memory_jobs WHERE agent_id = $1", agent_id)
        return int(found[0][0])

    async def claim_memory_job(
        self, *, now: float, holder: str = "", lease_s: float = C.AGENT_LEASE_S, affinity_s: float = 0.0
    ) -> MemoryJob | None:
        try:
            found = await self._fetch("claim_memory_job", _CLAIM, now, holder, now + lease_s, now - affinity_s)
        except Exception as exc:
            if isinstance(exc.__cause__, asyncpg.UniqueViolationError):  # the agent has a running job: next time
                return None
            raise
        return job_from_row(found[0]) if found else None

    async def complete_memory_job(self, job_id: int, *, now: float, attempt: int | None = None) -> bool:
        return await self._exec(
            "complete_memory_job",
            "UPDATE memory_jobs SET status = 'done', error = NULL, updated_at = $1 WHERE id = $2 "
            "AND status = 'running' AND ($3::int IS NULL OR attempts = $3)", now, job_id, attempt) == 1

    async def fail_memory_job(
        self, job_id: int, error: str, *, retry_at: float | None, now: float, attempt: int | None = None
    ) -> None:
        await self._exec(
            "fail_memory_job",
            "UPDATE memory_jobs SET status = CASE WHEN $2::float8 IS NULL THEN 'failed' ELSE 'pending' END, "
            "error = $1, run_after = coalesce($2, run_after), updated_at = $3 WHERE id = $4 AND status = 'running' "
            "AND ($5::int IS NULL OR attempts = $5)", error, retry_at, now, job_id, attempt)

    async def release_memory_job(self, job_id: int, *, now: float, attempt: int | None = None) -> None:
        await self._exec(
            "release_memory_job",
            "UPDATE memory_jobs SET status = 'pending', run_after = $1, updated_at = $1, crashes = crashes + 1, "
            "error = 'interrupted by shutdown', lease_until = NULL WHERE id = $2 AND status = 'running' "
            "AND ($3::int IS NULL OR attempts = $3)", now, job_id, attempt)

    async def requeue_running_jobs(self, *, now: float) -> int:
        return await self._exec(
            "requeue_running_jobs",
            "UPDATE memory_jobs SET status = 'pending', run_after = $1, updated_at = $1, crashes = crashes + 1 "
            "WHERE status = 'running' AND coalesce(lease_until, 0) <= $1", now)

    async def list_memory_jobs(self, agent_id: str, *, limit: int = 50) -> list[MemoryJob]:
        found = await self._fetch("list_memory_jobs", f"SELECT {JOB_COLUMNS} FROM memory_jobs WHERE agent_id = $1 "
                                  "ORDER BY id DESC LIMIT $2", agent_id, limit)
        return [job_from_row(r) for r in reversed(found)]

    async def insert_job_passages(self, job_id: int, passages: Sequence[tuple[str, Passage]], *,
                                  supersedes: Mapping[str, Sequence[str]] | None = None) -> list[str]:
        if not passages:
            return []
        inserted: list[str] = []
        ready = [p.model_copy(update={"embedding_dim": len(p.embedding)}) if p.embedding is not None else p
                 for _, p in passages]
        rows = await passage_rows(ready)
        async with self._tx("insert_job_passages") as db:
            await db.execute("SELECT pg_advisory_xact_lock($1)", job_id)  # one writer per job at a time
            if await db.fetchval("SELECT 1 FROM passages WHERE job_id = $1 LIMIT 1", job_id):
                return []  # a re-run after a crash: everything it would store is there
            width = R.column_count(R.PASSAGE_INSERT_COLUMNS)
            for (key, _), p, row in zip(passages, ready, rows, strict=True):
                got = await db.fetchval(
                    f"INSERT INTO passages ({R.PASSAGE_INSERT_COLUMNS}, job_id, chunk_key) VALUES "
                    f"({params(R.PASSAGE_INSERT_COLUMNS)}, ${width + 1}, ${width + 2}) "
                    "ON CONFLICT (job_id, chunk_key) DO NOTHING RETURNING id", *row, job_id, key)
                if got is not None:
                    inserted.append(got)
                    old = [i for i in dict.fromkeys((supersedes or {}).get(key, ())) if i != p.id]
                    if old:
                        await supersede(db, p.agent_id, old, p.id, p.created_at)
        return inserted
