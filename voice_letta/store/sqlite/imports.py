"""Imported conversations: ``ImportsMixin`` of ``SqliteStore``.

An import is one ``BEGIN IMMEDIATE`` transaction in one thread hop (every process on the file takes the write gate
for it): what earlier imports stored at these times (``agent.imports.split_imports`` drops it), the insert of the
rest, their "import" memory jobs and, under an ``Idempotency-Key``, the request's first response. A process killed
anywhere inside leaves none of it: no stored line without the job that archives it, no job without its lines, and
no lines whose retry would find them already there (and answer ``duplicates`` instead of the first response).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable, Sequence

from voice_letta.agent.imports import split_imports, unarchived_runs
from voice_letta.agent.models import Message
from voice_letta.agent.ports import HandoffRange, KeyedImport, MemoryJob
from voice_letta.store import rows as R
from voice_letta.store.common import chunked, finish_params, job_from_row, key_finished
from voice_letta.store.faults import IMPORT_LINES_STORED, crash_point
from voice_letta.store.sqlite.base import MAX_BOUND_VARS, SELECT_MESSAGE, SqliteBase
from voice_letta.store.sqlite.jobs import ENQUEUE, WATERMARK
from voice_letta.store.sqlite.messages import append_params, append_sql
from voice_letta.store.sqlite.request_keys import FINISH


class ImportsMixin(SqliteBase):
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
        times = sorted({m.created_at for m in messages})
        width = MAX_BOUND_VARS // (R.column_count(R.MESSAGE_INSERT_COLUMNS) + 2)

        def work(conn: sqlite3.Connection) -> tuple[list[Message], list[MemoryJob]]:
            earlier: list[Message] = []
            for chunk in chunked(times, MAX_BOUND_VARS - 1):
                earlier += [R.message_from_row(r) for r in conn.execute(
                    f"{SELECT_MESSAGE} WHERE agent_id = ? AND kind = 'imported' "
                    f"AND created_at IN ({', '.join('?' * len(chunk))})", [agent_id, *chunk]).fetchall()]
            fresh, matched = split_imports(messages, earlier)
            seqs: dict[str, int] = {}
            for part in chunked(fresh, width):
                seqs.update(conn.execute(append_sql(len(part)), append_params(part)).fetchall())
            stored = [R.stored_message(m, seqs[m.id]) for m in fresh]
            crash_point(IMPORT_LINES_STORED)
            jobs: list[MemoryJob] = []
            if parts is not None:
                runs = _unarchived(conn, agent_id, matched) + ([stored] if stored else [])
                ranges = [payload for run in runs for payload in parts(run)]
                watermark = int(conn.execute(WATERMARK, (agent_id,)).fetchall()[0][0]) if ranges else 0
                for payload in ranges:
                    row = conn.execute(ENQUEUE, (agent_id, "import", json.dumps(dataclasses.asdict(payload)),
                                                 watermark, now, now, now)).fetchall()
                    jobs.append(job_from_row(row[0]))
            if keyed is not None:
                done = conn.execute(FINISH, finish_params(keyed.held, *keyed.respond(stored, jobs)))
                key_finished(done.rowcount, keyed.held)
            return stored, jobs

        return await self._transaction("import_messages", work)


def _unarchived(conn: sqlite3.Connection, agent_id: str, matched: list[Message]) -> list[list[Message]]:
    """The rows of ``matched`` no import job archived (first imported with ``archive: false``), as runs."""
    if not matched:
        return []
    jobs = conn.execute("SELECT payload FROM memory_jobs WHERE agent_id = ? AND kind = 'import'", (agent_id,))
    archived = [(int(p["older_from_seq"]), int(p["older_through_seq"])) for p in (json.loads(r[0]) for r in jobs)]
    seqs = [m.seq for m in matched]
    between = [int(r[0]) for r in conn.execute(
        "SELECT seq FROM messages WHERE agent_id = ? AND kind = 'imported' AND seq BETWEEN ? AND ?",
        (agent_id, min(seqs), max(seqs))).fetchall()]
    return unarchived_runs(matched, archived, between)
