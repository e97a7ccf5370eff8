"""Imported conversations on PostgreSQL: ``ImportsMixin`` of ``PostgresStore``.

As SQLite's (``store/sqlite/imports.py``): the dedup check, the insert, the lines' "import" memory jobs and, under
an ``Idempotency-Key``, the first response, in one transaction. It runs under the agent's import lock
(``pg_advisory_xact_lock``, held to its commit), so a second import of the agent, from any process, waits and then
sees this one's rows; the jobs are inserted under the agent's hand-off lock (the one ``vl_enqueue_memory_job``
takes, migration 0015), so the watermark they carry is the one a concurrent hand-off commits against.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import orjson

from voice_letta.agent.imports import new_imports
from voice_letta.agent.models import Message
from voice_letta.agent.ports import HandoffRange, KeyedImport, MemoryJob
from voice_letta.store.common import JOB_COLUMNS, finish_params, job_from_row, key_finished
from voice_letta.store.faults import IMPORT_LINES_STORED, crash_point
from voice_letta.store.postgres.base import PgBase, rowcount
from voice_letta.store.postgres.messages import append_rows
from voice_letta.store.postgres.request_keys import FINISH

_ENQUEUE = (
    "INSERT INTO memory_jobs (agent_id, kind, payload, through_seq, status, attempts, run_after, created_at, "
    f"updated_at) VALUES ($1, 'import', $2, $3, 'pending', 0, $4, $4, $4) RETURNING {JOB_COLUMNS}"
)


class ImportsMixin(PgBase):
    async def append_imports(self, messages: Sequence[Message]) -> list[Message]:
        stored, _ = await self.import_messages(messages)
        return stored

    async def import_messages(
        self, messages: Sequence[Message], *, parts: Callable[[list[Message]], Sequence[HandoffRange]] | None = None,
        now: float = 0.0, keyed: KeyedImport | None = None,
    ) -> tuple[list[Message], list[MemoryJob]]:
        if not messages:
            return [], []
        agent_id = messages[0].agent_id
        if any(m.agent_id != agent_id for m in messages):
            raise ValueError("an import stores the messages of one agent")
        jobs: list[MemoryJob] = []
        async with self._tx("import_messages") as db:
            await db.execute("SELECT pg_advisory_xact_lock(hashtext('imports:' || $1))", agent_id)
            earlier = await db.fetch(
                "SELECT role, content, created_at FROM messages WHERE agent_id = $1 AND kind = 'imported' "
                "AND created_at = ANY($2::double precision[])", agent_id, sorted({m.created_at for m in messages}))
            fresh = new_imports(messages, [(r[0], r[1], float(r[2])) for r in earlier])
            stored = await append_rows(db, fresh) if fresh else []
            crash_point(IMPORT_LINES_STORED)
            ranges = parts(stored) if stored and parts is not None else ()
            if ranges:
                await db.execute("SELECT pg_advisory_xact_lock(hashtext('memory_jobs:' || $1))", agent_id)
                watermark = int(await db.fetchval(
                    "SELECT coalesce(max(through_seq), 0) FROM memory_jobs WHERE agent_id = $1", agent_id))
                for payload in ranges:
                    row = await db.fetchrow(_ENQUEUE, agent_id, orjson.dumps(dataclasses.asdict(payload)).decode(),
                                            watermark, now)
                    assert row is not None
                    jobs.append(job_from_row(row))
            if keyed is not None:
                done = await db.execute(FINISH, *finish_params(keyed.held, *keyed.respond(stored, jobs)))
                key_finished(rowcount(done), keyed.held)
        return stored, jobs
