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

import asyncpg
import orjson

from voice_letta.agent.imports import split_imports, unarchived_runs
from voice_letta.agent.models import Message
from voice_letta.agent.ports import HandoffRange, KeyedImport, MemoryJob
from voice_letta.store import rows as R
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
                f"SELECT {R.MESSAGE_COLUMNS} FROM messages WHERE agent_id = $1 AND kind = 'imported' "
                "AND created_at = ANY($2::double precision[])", agent_id, sorted({m.created_at for m in messages}))
            fresh, matched = split_imports(messages, [R.message_from_row(r) for r in earlier])
            stored = await append_rows(db, fresh) if fresh else []
            crash_point(IMPORT_LINES_STORED)
            ranges: list[HandoffRange] = []
            if parts is not None:
                runs = await _unarchived(db, agent_id, matched) + ([stored] if stored else [])
                ranges = [payload for run in runs for payload in parts(run)]
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


async def _unarchived(db: asyncpg.Connection, agent_id: str, matched: list[Message]) -> list[list[Message]]:
    """The rows of ``matched`` no import job archived (first imported with ``archive: false``), as runs."""
    if not matched:
        return []
    payloads = await db.fetch("SELECT payload FROM memory_jobs WHERE agent_id = $1 AND kind = 'import'", agent_id)
    archived = [(int(p["older_from_seq"]), int(p["older_through_seq"])) for p in (orjson.loads(r[0]) for r in
                                                                                   payloads)]
    seqs = [m.seq for m in matched]
    between = await db.fetch("SELECT seq FROM messages WHERE agent_id = $1 AND kind = 'imported' "
                             "AND seq BETWEEN $2 AND $3", agent_id, min(seqs), max(seqs))
    return unarchived_runs(matched, archived, [int(r[0]) for r in between])
