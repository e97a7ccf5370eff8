"""The sleeptime hand-off queue (``memory_jobs``, migration 0002): ``JobsMixin`` of ``SqliteStore``.

- ``enqueue_memory_job`` inserts a job and evicts its range in one transaction, one thread hop;
- ``claim_memory_job`` is one ``UPDATE … RETURNING`` (pending → running, never for an agent that already has
  a running job; a running job whose lease ran out is claimed again), leased to the claiming worker
  (``claimed_by``, ``lease_until``, renewed by ``renew_leases``); complete/fail are fenced on ``attempts``, so a
  worker that lost its job's lease cannot finish the new holder's run;
- ``insert_job_passages`` writes all of a job's passages in one transaction and nothing if the job already has
  some (a re-run after a crash).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Mapping, Sequence

from voice_letta import config as C
from voice_letta.agent.models import Passage
from voice_letta.agent.ports import HandoffRange, JobKind, MemoryJob
from voice_letta.errors import ConflictError
from voice_letta.store import rows as R
from voice_letta.store.common import JOB_COLUMNS, job_from_row, passage_rows
from voice_letta.store.sqlite.base import SqliteBase, exists, supersede, values
from voice_letta.store.sqlite.messages import evict, evicted_from

WATERMARK = "SELECT coalesce(max(through_seq), 0) FROM memory_jobs WHERE agent_id = ?"
ENQUEUE = (
    "INSERT INTO memory_jobs (agent_id, kind, payload, through_seq, status, attempts, run_after, created_at, "
    f"updated_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?) RETURNING {JOB_COLUMNS}"
)


class JobsMixin(SqliteBase):
    async def enqueue_memory_job(
        self, agent_id: str, kind: JobKind, payload: HandoffRange, *, through_seq: int,
        evict_through_seq: int | None = None, now: float,
    ) -> MemoryJob:
        """Insert a pending job and evict ``seq <= evict_through_seq`` in one transaction (both or neither).

        ConflictError (and nothing written) when another job of the agent already handed over
        ``payload.older_from_seq``: two processes planned the same hand-off and the other one was first.
        """
        params = (agent_id, kind, json.dumps(dataclasses.asdict(payload)), through_seq, now, now, now)
        windows = self._windows

        # one thread hop for the whole transaction (it was five: BEGIN, three statements, COMMIT)
        def work(conn: sqlite3.Connection) -> tuple[list[R.Row], int, int | None]:
            found = conn.execute(WATERMARK, (agent_id,)).fetchall()
            if int(found[0][0]) >= payload.older_from_seq:
                raise ConflictError(f"agent {agent_id}: seq {payload.older_from_seq} was already handed over")
            evicted, version = evict(conn, agent_id, evict_through_seq) if evict_through_seq is not None else (0, None)
            return conn.execute(ENQUEUE, params).fetchall(), evicted, version

        def then(conn: sqlite3.Connection, done: tuple[list[R.Row], int, int | None]) -> MemoryJob:
            row, evicted, version = done
            if evict_through_seq is not None:
                evicted_from(windows, agent_id, evict_through_seq, evicted, version)
            return job_from_row(row[0])

        return await self._transaction_then("enqueue_memory_job", work, then)

    async def handoff_watermark(self, agent_id: str) -> int:
        found = await self._fetch("handoff_watermark", WATERMARK, (agent_id,))
        return int(found[0][0])

    async def claim_memory_job(
        self, *, now: float, holder: str = "", lease_s: float = C.AGENT_LEASE_S, affinity_s: float = 0.0
    ) -> MemoryJob | None:
        """One statement, so two workers can never claim the same job or two jobs of one agent.

        Claimable: the oldest due pending job of an agent with no running job, or a running job whose lease ran
        out (its worker died; it is run again, which stores nothing twice). A pending job of an agent whose turn
        lease (``agent_leases``) another holder took less than a lease period ago (``expires_at`` still ahead)
        waits ``affinity_s`` past its due time for that holder.
        """
        found = await self._exec_returning(
            "claim_memory_job",
            "UPDATE memory_jobs SET status = 'running', attempts = attempts + 1, updated_at = ?1, claimed_by = ?2, "
            "crashes = crashes + (status = 'running'), "  # re-claimed after its worker died: not a failure
            "lease_until = ?3 WHERE id = (SELECT j.id FROM memory_jobs j WHERE (j.status = 'running' "
            "AND coalesce(j.lease_until, 0) <= ?1) OR (j.status = 'pending' AND j.run_after <= ?1 "
            "AND NOT EXISTS (SELECT 1 FROM memory_jobs r WHERE r.agent_id = j.agent_id AND r.status = 'running') "
            "AND NOT EXISTS (SELECT 1 FROM memory_jobs o WHERE o.agent_id = j.agent_id AND o.id < j.id "
            "AND o.status = 'pending') AND (j.run_after <= ?4 OR NOT EXISTS (SELECT 1 FROM agent_leases l "
            "WHERE l.agent_id = j.agent_id AND l.holder NOT IN (?2, '') AND l.expires_at > ?1))) "
            "ORDER BY j.status = 'running' DESC, j.run_after, j.id LIMIT 1) "
            "AND (status = 'pending' OR coalesce(lease_until, 0) <= ?1) "
            f"RETURNING {JOB_COLUMNS}",
            (now, holder, now + lease_s, now - affinity_s),
        )
        return job_from_row(found[0]) if found else None

    async def complete_memory_job(self, job_id: int, *, now: float, attempt: int | None = None) -> bool:
        changed = await self._exec(
            "complete_memory_job",
            "UPDATE memory_jobs SET status = 'done', error = NULL, updated_at = ?1 WHERE id = ?2 "
            "AND status = 'running' AND (?3 IS NULL OR attempts = ?3)",
            (now, job_id, attempt),
        )
        return changed == 1

    async def fail_memory_job(
        self, job_id: int, error: str, *, retry_at: float | None, now: float, attempt: int | None = None
    ) -> None:
        # retry_at NULL: failed for good; else back to pending, due at retry_at.
        await self._exec(
            "fail_memory_job",
            "UPDATE memory_jobs SET status = CASE WHEN ?2 IS NULL THEN 'failed' ELSE 'pending' END, error = ?1, "
            "run_after = coalesce(?2, run_after), updated_at = ?3 WHERE id = ?4 AND status = 'running' "
            "AND (?5 IS NULL OR attempts = ?5)",
            (error, retry_at, now, job_id, attempt),
        )

    async def release_memory_job(self, job_id: int, *, now: float, attempt: int | None = None) -> None:
        await self._exec(
            "release_memory_job",
            "UPDATE memory_jobs SET status = 'pending', run_after = ?1, updated_at = ?1, crashes = crashes + 1, "
            "error = 'interrupted by shutdown', lease_until = NULL WHERE id = ?2 AND status = 'running' "
            "AND (?3 IS NULL OR attempts = ?3)",
            (now, job_id, attempt),
        )

    async def requeue_running_jobs(self, *, now: float) -> int:
        """Running jobs whose lease ran out (or that have none: written before leases existed) → pending."""
        return await self._exec(
            "requeue_running_jobs",
            "UPDATE memory_jobs SET status = 'pending', run_after = ?1, updated_at = ?1, crashes = crashes + 1 "
            "WHERE status = 'running' AND coalesce(lease_until, 0) <= ?1",
            (now,),
        )

    async def list_memory_jobs(self, agent_id: str, *, limit: int = 50) -> list[MemoryJob]:
        found = await self._fetch(
            "list_memory_jobs",
            f"SELECT {JOB_COLUMNS} FROM memory_jobs WHERE agent_id = ? ORDER BY id DESC LIMIT ?",
            (agent_id, limit),
        )
        return [job_from_row(r) for r in reversed(found)]

    async def insert_job_passages(self, job_id: int, passages: Sequence[tuple[str, Passage]], *,
                                  supersedes: Mapping[str, Sequence[str]] | None = None) -> list[str]:
        if not passages:
            return []
        width = R.column_count(R.PASSAGE_INSERT_COLUMNS) + 2
        inserted: list[str] = []
        ready = [p.model_copy(update={"embedding_dim": len(p.embedding)}) if p.embedding is not None else p
                 for _, p in passages]
        params = await passage_rows(ready)
        async with self._write("insert_job_passages") as db:
            # All passages of a job land in this one transaction: if the job already has some, this is a
            # re-run after a crash and everything it would store is already there.
            if await exists(db, "SELECT 1 FROM passages WHERE job_id = ? LIMIT 1", job_id):
                return []
            for (key, _), p, row in zip(passages, ready, params, strict=True):
                rows = await db.execute_fetchall(
                    f"INSERT INTO passages ({R.PASSAGE_INSERT_COLUMNS}, job_id, chunk_key) VALUES {values(width, 1)} "
                    "ON CONFLICT (job_id, chunk_key) DO NOTHING RETURNING id",
                    (*row, job_id, key),
                )
                inserted.extend(r[0] for r in rows)
                old = [i for i in dict.fromkeys((supersedes or {}).get(key, ())) if i != p.id]
                if rows and old:
                    await supersede(db, p.agent_id, old, p.id, p.created_at)
        return inserted
