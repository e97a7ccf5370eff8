"""``SqliteStore``: the ``agent.ports.Store`` on one SQLite file through one aiosqlite connection.

Concurrency and latency: aiosqlite runs every statement on its own worker thread, in order, and every
await is one thread round trip, so hot-path methods are one statement each: ``append_messages`` (an
``INSERT … SELECT`` that assigns ``seq``), ``save_turn`` (an upsert), ``update_message`` (``RETURNING``),
``get_agent`` (blocks and tools aggregated as JSON). All writes hold an ``asyncio.Lock``; multi-statement
writes (create/delete agent, attach, tools) run as ``BEGIN IMMEDIATE … COMMIT`` under it, so a single
statement never lands inside another task's transaction. Reads do not take the lock; a read that lands
between two statements of such a transaction sees its rows.

Semantics beyond the Protocol's docstrings:
- list methods return ``[]`` for an unknown agent (one query on the hot path, no existence check);
  ``get_*``, ``update_*`` and ``delete_*`` raise ``NotFoundError``;
- an agent's blocks keep the order they were attached in, and labels are unique per agent;
- ``detach_block`` keeps the block; ``delete_agent`` deletes blocks no other agent links to;
- a read-only block rejects writes unless the same call sets ``read_only=False``;
- ``search_passages_text`` with a time window matches passages whose ``[start_at, end_at]`` overlaps it;
  a passage with neither bound falls back to ``created_at``.
- memory jobs (migration 0002, the sleeptime hand-off queue): ``enqueue_memory_job`` inserts a job and
  evicts its range in one transaction; ``claim_memory_job`` is one ``UPDATE … RETURNING`` (pending →
  running, never for an agent that already has a running job); ``insert_job_passages`` writes all of a
  job's passages in one transaction and nothing if the job already has some (a re-run after a crash).

Why one module over 800 lines: it is one class over one connection and one write lock, and every method is
a statement or two of SQL; splitting it into mixins would spread that lock's invariant across files. Row
mapping lives in ``rows.py``, FTS query building in ``fts.py`` and plumbing in ``db.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import aiosqlite
from pydantic import ValidationError

from voice_letta import config as C
from voice_letta.agent.models import AgentState, Block, Message, Passage, Tool, TurnRecord
from voice_letta.agent.ports import (
    HandoffRange,
    JobKind,
    MemoryJob,
    MessageHit,
    NewBlock,
    PassageHit,
    PassageVectors,
)
from voice_letta.errors import ConfigError, ConflictError, NotFoundError
from voice_letta.ids import block_id as new_block_id
from voice_letta.store import rows as R
from voice_letta.store.db import connect, migrate, rollback_quietly, translate_errors
from voice_letta.store.fts import fts_match, fts_terms, porter_stem, select_terms

_BLOCK_FIELDS = frozenset({"limit", "description", "read_only", "label"})
_SEARCH_ROLES = "('user', 'assistant')"

_SELECT_AGENT = f"SELECT {R.AGENT_COLUMNS} FROM agents"
_SELECT_BLOCK = f"SELECT {R.BLOCK_COLUMNS} FROM blocks"
_SELECT_MESSAGE = f"SELECT {R.MESSAGE_COLUMNS} FROM messages"
_SELECT_TOOL = f"SELECT {R.TOOL_COLUMNS} FROM tools"


def _qualified(columns: str, alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


# ``{}`` takes an optional WHERE clause; the first column is the agent id, the rest a block row.
_LINKED_BLOCKS = (
    f"SELECT ab.agent_id, {_qualified(R.BLOCK_COLUMNS, 'b')} FROM agent_blocks ab "
    "JOIN blocks b ON b.id = ab.block_id {} ORDER BY ab.agent_id, ab.position"
)


class SqliteStore:
    """Implements ``voice_letta.agent.ports.Store``. Build it with ``open_store(path)``."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._db = conn
        self._path = path
        self._write_lock = asyncio.Lock()
        self._closed = False
        self.keyword_doc_budget = C.KEYWORD_DOC_BUDGET

    @property
    def path(self) -> Path:
        return self._path

    # --- plumbing ------------------------------------------------------------------------------------
    async def _fetch(self, action: str, sql: str, params: Sequence[Any] = ()) -> list[R.Row]:
        with translate_errors(action):
            return list(await self._db.execute_fetchall(sql, params))

    @asynccontextmanager
    async def _locked(self, action: str) -> AsyncIterator[aiosqlite.Connection]:
        """Hold the write lock: statements run in autocommit mode, each one atomic on its own."""
        async with self._write_lock:
            with translate_errors(action):
                yield self._db

    @asynccontextmanager
    async def _write(self, action: str) -> AsyncIterator[aiosqlite.Connection]:
        """A multi-statement write transaction, serialized with every other write of this store."""
        async with self._locked(action) as db:
            try:
                await db.execute("BEGIN IMMEDIATE")
                yield db
                await db.execute("COMMIT")
            except BaseException:
                await asyncio.shield(rollback_quietly(db))
                raise

    async def _keyword_match(self, vocab: str, query: str) -> str | None:
        """The FTS5 MATCH expression for ``query`` without words too common to score (``select_terms``)."""
        terms = fts_terms(query)
        if not terms:
            return None
        stems = list(dict.fromkeys(porter_stem(t) for t in terms))
        # one equality lookup per stem (fts5vocab does not push an IN list down; equality it answers directly)
        found = await self._fetch(
            "keyword_doc_counts",
            " UNION ALL ".join(f"SELECT term, doc FROM {vocab} WHERE term = ?" for _ in stems), stems)
        return fts_match(select_terms(terms, {r[0]: int(r[1]) for r in found}, self.keyword_doc_budget))

    async def _exec(self, action: str, sql: str, params: Sequence[Any] = ()) -> int:
        """One autocommitted write statement (one thread hop); returns how many rows it changed."""
        async with self._locked(action) as db:
            cur = await db.execute(sql, params)
            return cur.rowcount

    async def _exec_returning(self, action: str, sql: str, params: Sequence[Any] = ()) -> list[R.Row]:
        """One autocommitted write statement with a ``RETURNING`` clause."""
        async with self._locked(action) as db:
            return list(await db.execute_fetchall(sql, params))

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        async with self._write_lock:
            try:
                await self._db.execute("PRAGMA optimize")
            except (sqlite3.Error, ValueError):
                pass
            with translate_errors("closing the database"):
                await self._db.close()

    async def __aenter__(self) -> SqliteStore:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # --- agents --------------------------------------------------------------------------------------
    async def create_agent(self, agent: AgentState, blocks: Sequence[NewBlock | str]) -> AgentState:
        """Insert an agent; ``blocks`` are new blocks or ids of existing blocks to share.

        ``agent.blocks`` is ignored (``blocks`` says what to link); ``agent.tools`` are linked by id.
        """
        async with self._write("create_agent") as db:
            if await _exists(db, "SELECT 1 FROM agents WHERE id = ?", agent.id):
                raise ConflictError(f"agent {agent.id} already exists")
            await db.execute(
                f"INSERT INTO agents ({R.AGENT_COLUMNS}) VALUES ({R.placeholders(R.AGENT_COLUMNS)})",
                R.agent_params(agent),
            )
            shared_ids = [b for b in blocks if isinstance(b, str)]
            shared = await _blocks_by_id(db, shared_ids)
            new_rows: list[Block] = []
            link_ids: list[str] = []
            labels: set[str] = set()
            for spec in blocks:
                if isinstance(spec, str):
                    block = shared[spec]
                else:
                    block = _new_block(spec)
                    new_rows.append(block)
                if block.label in labels:
                    raise ConfigError(f"agent {agent.id} would have two blocks labelled {block.label!r}")
                labels.add(block.label)
                link_ids.append(block.id)
            await db.executemany(
                f"INSERT INTO blocks ({R.BLOCK_COLUMNS}) VALUES ({R.placeholders(R.BLOCK_COLUMNS)})",
                [R.block_params(b) for b in new_rows],
            )
            await db.executemany(
                "INSERT INTO agent_blocks (agent_id, block_id, position) VALUES (?, ?, ?)",
                [(agent.id, bid, pos) for pos, bid in enumerate(link_ids)],
            )
            tool_ids = list(dict.fromkeys(t.id for t in agent.tools))
            if tool_ids:
                found = await db.execute_fetchall(
                    f"SELECT id FROM tools WHERE id IN ({', '.join('?' * len(tool_ids))})", tool_ids
                )
                if missing := set(tool_ids) - {r[0] for r in found}:
                    raise NotFoundError(f"unknown tools: {sorted(missing)}")
                await db.executemany(
                    "INSERT INTO agent_tools (agent_id, tool_id, position) VALUES (?, ?, ?)",
                    [(agent.id, tid, pos) for pos, tid in enumerate(tool_ids)],
                )
        return await self.get_agent(agent.id)

    async def get_agent(self, agent_id: str) -> AgentState:
        found = await self._fetch("get_agent", f"{R.AGENT_WITH_LINKS} WHERE a.id = ?", (agent_id,))
        if not found:
            raise NotFoundError(f"unknown agent {agent_id}")
        with translate_errors("decoding an agent"):
            return R.agent_from_linked_row(found[0])

    async def list_agents(self) -> list[AgentState]:
        found = await self._fetch("list_agents", f"{R.AGENT_WITH_LINKS} ORDER BY a.created_at, a.id")
        with translate_errors("decoding agents"):
            return [R.agent_from_linked_row(r) for r in found]

    async def update_agent(self, agent: AgentState) -> AgentState:
        """Write the agent's own settings. Blocks and tools change through attach/detach, not here."""
        params = R.agent_params(agent)
        columns = [c.strip() for c in R.AGENT_COLUMNS.split(",")]
        assignments = ", ".join(f"{c} = ?" for c in columns[1:])
        changed = await self._exec(
            "update_agent", f"UPDATE agents SET {assignments} WHERE id = ?", (*params[1:], params[0])
        )
        if changed == 0:
            raise NotFoundError(f"unknown agent {agent.id}")
        return await self.get_agent(agent.id)

    async def delete_agent(self, agent_id: str) -> None:
        """Delete the agent, its messages, passages, turns and links, and the blocks only it used."""
        async with self._write("delete_agent") as db:
            await db.execute(
                "DELETE FROM blocks WHERE id IN ("
                " SELECT ab.block_id FROM agent_blocks ab WHERE ab.agent_id = ?1 AND NOT EXISTS ("
                "  SELECT 1 FROM agent_blocks o WHERE o.block_id = ab.block_id AND o.agent_id != ?1))",
                (agent_id,),
            )
            cur = await db.execute("DELETE FROM agents WHERE id = ?", (agent_id,))
            if cur.rowcount == 0:
                raise NotFoundError(f"unknown agent {agent_id}")

    # --- blocks --------------------------------------------------------------------------------------
    async def get_block(self, block_id: str) -> Block:
        found = await self._fetch("get_block", f"{_SELECT_BLOCK} WHERE id = ?", (block_id,))
        if not found:
            raise NotFoundError(f"unknown block {block_id}")
        with translate_errors("decoding a block"):
            return R.block_from_row(found[0])

    async def list_blocks(self, agent_id: str) -> list[Block]:
        found = await self._fetch("list_blocks", _LINKED_BLOCKS.format("WHERE ab.agent_id = ?"), (agent_id,))
        with translate_errors("decoding blocks"):
            return [R.block_from_row(r[1:]) for r in found]

    async def update_block(
        self, block_id: str, *, value: str, expected_version: int | None = None, **fields: Any
    ) -> Block:
        """Write a block; with ``expected_version`` it is a compare-and-set (ConflictError on mismatch).

        Extra ``fields``: ``limit``, ``description``, ``read_only``, ``label``. The version grows by one.
        """
        if unknown := set(fields) - _BLOCK_FIELDS:
            raise ConfigError(f"unknown block fields: {sorted(unknown)}")
        # Under the write lock the read and the compare-and-set cannot interleave with our own writes; the
        # ``version = ?`` condition also protects against other processes.
        async with self._locked("update_block") as db:
            found = await db.execute_fetchall(f"{_SELECT_BLOCK} WHERE id = ?", (block_id,))
            if not found:
                raise NotFoundError(f"unknown block {block_id}")
            current = R.block_from_row(next(iter(found)))
            if expected_version is not None and current.version != expected_version:
                raise ConflictError(
                    f"block {current.label!r} is at version {current.version}, not {expected_version}"
                )
            if current.read_only and fields.get("read_only", True):
                raise ConfigError(f"block {current.label!r} is read-only")
            try:
                new = Block.model_validate({**current.model_dump(), **fields, "value": value})
            except ValidationError as exc:
                raise ConfigError(f"invalid block fields: {exc}") from exc
            if new.limit <= 0:
                raise ConfigError("a block's limit must be positive")
            if len(new.value) > new.limit:
                raise ConfigError(
                    f"block {new.label!r} value is {len(new.value)} characters; the limit is {new.limit}. "
                    "Shorten it or summarize it."
                )
            if new.label != current.label:
                await _check_label_free(db, block_id, new.label)
            cur = await db.execute(
                "UPDATE blocks SET label = ?, value = ?, char_limit = ?, description = ?, read_only = ?, "
                "version = version + 1 WHERE id = ? AND version = ?",
                (new.label, new.value, new.limit, new.description, int(new.read_only), block_id,
                 current.version),
            )
            if cur.rowcount != 1:
                raise ConflictError(f"block {current.label!r} changed during the update")
        return new.model_copy(update={"version": current.version + 1})

    async def attach_block(self, agent_id: str, block_id: str) -> None:
        async with self._write("attach_block") as db:
            if not await _exists(db, "SELECT 1 FROM agents WHERE id = ?", agent_id):
                raise NotFoundError(f"unknown agent {agent_id}")
            found = await db.execute_fetchall("SELECT label FROM blocks WHERE id = ?", (block_id,))
            if not found:
                raise NotFoundError(f"unknown block {block_id}")
            label = next(iter(found))[0]
            if await _exists(db, "SELECT 1 FROM agent_blocks WHERE agent_id = ? AND block_id = ?",
                             agent_id, block_id):
                return
            if await _exists(
                db, "SELECT 1 FROM agent_blocks ab JOIN blocks b ON b.id = ab.block_id "
                "WHERE ab.agent_id = ? AND b.label = ?", agent_id, label,
            ):
                raise ConfigError(f"agent {agent_id} already has a block labelled {label!r}")
            await db.execute(
                "INSERT INTO agent_blocks (agent_id, block_id, position) VALUES (?1, ?2, "
                "(SELECT coalesce(max(position), -1) + 1 FROM agent_blocks WHERE agent_id = ?1))",
                (agent_id, block_id),
            )

    async def detach_block(self, agent_id: str, block_id: str) -> None:
        await self._exec(
            "detach_block", "DELETE FROM agent_blocks WHERE agent_id = ? AND block_id = ?", (agent_id, block_id)
        )

    # --- messages ------------------------------------------------------------------------------------
    async def append_messages(self, messages: Sequence[Message]) -> list[Message]:
        """Store messages in order, giving each the next ``seq`` of its agent.

        One ``INSERT … SELECT`` per batch reads each agent's current maximum ``seq`` and inserts the rows
        after it, atomically and in one thread hop.
        """
        if not messages:
            return []
        chunks = list(_chunked(messages, _MAX_BOUND_VARS // (R.column_count(R.MESSAGE_INSERT_COLUMNS) + 2)))
        if len(chunks) == 1:
            returned = await self._exec_returning(
                "append_messages", _append_sql(len(messages)), _append_params(messages)
            )
        else:
            returned = []
            async with self._write("append_messages") as db:
                for chunk in chunks:
                    returned.extend(await db.execute_fetchall(_append_sql(len(chunk)), _append_params(chunk)))
        seqs: dict[str, int] = {r[0]: r[1] for r in returned}
        return [m.model_copy(update={"seq": seqs[m.id]}) for m in messages]

    async def update_message(
        self, message_id: str, *, content: str | None = None, interrupted: bool | None = None
    ) -> Message:
        """Change a stored message's content and/or interrupted flag (``None`` leaves it as it is)."""
        if content is None and interrupted is None:
            found = await self._fetch("update_message", f"{_SELECT_MESSAGE} WHERE id = ?", (message_id,))
        else:
            found = await self._exec_returning(
                "update_message",
                "UPDATE messages SET content = coalesce(?, content), interrupted = coalesce(?, interrupted) "
                f"WHERE id = ? RETURNING {R.MESSAGE_COLUMNS}",
                (content, None if interrupted is None else int(interrupted), message_id),
            )
        if not found:
            raise NotFoundError(f"unknown message {message_id}")
        with translate_errors("decoding a message"):
            return R.message_from_row(found[0])

    async def list_messages(
        self, agent_id: str, *, in_context: bool | None = None, limit: int | None = None,
        after_seq: int | None = None,
    ) -> list[Message]:
        """Messages in ``seq`` order; ``limit`` keeps the most recent ones."""
        where = ["agent_id = ?"]
        params: list[Any] = [agent_id]
        if in_context is not None:
            where.append("in_context = ?")
            params.append(int(in_context))
        if after_seq is not None:
            where.append("seq > ?")
            params.append(after_seq)
        sql = f"{_SELECT_MESSAGE} WHERE {' AND '.join(where)}"
        if limit is None:
            found = await self._fetch("list_messages", sql + " ORDER BY seq", params)
        else:
            if limit <= 0:
                return []
            found = await self._fetch("list_messages", sql + " ORDER BY seq DESC LIMIT ?", [*params, limit])
            found.reverse()
        with translate_errors("decoding messages"):
            return [R.message_from_row(r) for r in found]

    async def evict_messages(self, agent_id: str, *, through_seq: int) -> int:
        """Mark the agent's messages with ``seq <= through_seq`` out of context; return how many changed."""
        return await self._exec(
            "evict_messages",
            "UPDATE messages SET in_context = 0 WHERE agent_id = ? AND seq <= ? AND in_context = 1",
            (agent_id, through_seq),
        )

    async def search_messages(
        self, agent_id: str, query: str, *, start_at: float | None = None, end_at: float | None = None,
        exclude_in_context: bool = True, limit: int = C.DEFAULT_SEARCH_RESULTS,
    ) -> list[MessageHit]:
        """BM25-ranked user and assistant messages (``score = -bm25``, higher is better)."""
        match = await self._keyword_match("messages_vocab", query)
        if match is None or limit <= 0:
            return []
        where = ["messages_fts MATCH ?", "m.agent_id = ?", f"m.role IN {_SEARCH_ROLES}"]
        params: list[Any] = [match, agent_id]
        if exclude_in_context:
            where.append("m.in_context = 0")
        if start_at is not None:
            where.append("m.created_at >= ?")
            params.append(start_at)
        if end_at is not None:
            where.append("m.created_at <= ?")
            params.append(end_at)
        found = await self._fetch(
            "search_messages",
            f"SELECT {_qualified(R.MESSAGE_COLUMNS, 'm')}, -bm25(messages_fts) FROM messages_fts "
            f"JOIN messages m ON m.rowid = messages_fts.rowid WHERE {' AND '.join(where)} "
            "ORDER BY bm25(messages_fts), m.seq LIMIT ?",
            [*params, limit],
        )
        with translate_errors("decoding messages"):
            return [MessageHit(message=R.message_from_row(r), score=float(r[-1])) for r in found]

    # --- passages ------------------------------------------------------------------------------------
    async def insert_passages(self, passages: Sequence[Passage]) -> list[Passage]:
        """Store passages; ``embedding_dim`` is filled in from the embedding when missing."""
        stored: list[Passage] = []
        for p in passages:
            if p.embedding is not None:
                if p.embedding_dim is not None and p.embedding_dim != len(p.embedding):
                    raise ConfigError(
                        f"passage {p.id}: embedding has {len(p.embedding)} values, embedding_dim says "
                        f"{p.embedding_dim}"
                    )
                p = p.model_copy(update={"embedding_dim": len(p.embedding)})
            stored.append(p)
        if not stored:
            return []
        chunks = list(_chunked(stored, _MAX_BOUND_VARS // R.column_count(R.PASSAGE_COLUMNS)))
        if len(chunks) == 1:
            await self._exec("insert_passages", _insert_sql("passages", R.PASSAGE_COLUMNS, len(stored)),
                             _flat(R.passage_params(p) for p in stored))
        else:
            async with self._write("insert_passages") as db:
                for chunk in chunks:
                    await db.execute(_insert_sql("passages", R.PASSAGE_COLUMNS, len(chunk)),
                                     _flat(R.passage_params(p) for p in chunk))
        return stored

    async def list_passages(self, agent_id: str, *, limit: int = 100, offset: int = 0) -> list[Passage]:
        found = await self._fetch(
            "list_passages",
            f"SELECT {R.PASSAGE_COLUMNS} FROM passages WHERE agent_id = ? "
            "ORDER BY created_at, rowid LIMIT ? OFFSET ?",
            (agent_id, limit, offset),
        )
        with translate_errors("decoding passages"):
            return [R.passage_from_row(r) for r in found]

    async def delete_passage(self, agent_id: str, passage_id: str) -> None:
        changed = await self._exec(
            "delete_passage", "DELETE FROM passages WHERE id = ? AND agent_id = ?", (passage_id, agent_id)
        )
        if changed == 0:
            raise NotFoundError(f"unknown passage {passage_id} of agent {agent_id}")

    async def search_passages_text(
        self, agent_id: str, query: str, *, start_at: float | None = None, end_at: float | None = None,
        limit: int = 20,
    ) -> list[PassageHit]:
        """BM25 over synopsis and text; the window keeps passages whose words were said inside it."""
        found = await self._search_passages("search_passages_text", _qualified(R.PASSAGE_COLUMNS, "p"), agent_id,
                                            query, start_at, end_at, limit)
        with translate_errors("decoding passages"):
            return [PassageHit(passage=R.passage_from_row(r), score=float(r[-1])) for r in found]

    async def _search_passages(
        self, action: str, columns: str, agent_id: str, query: str, start_at: float | None, end_at: float | None,
        limit: int,
    ) -> list[R.Row]:
        """``columns`` and -bm25 of the agent's passages matching ``query``, best first."""
        match = await self._keyword_match("passages_vocab", query)
        if match is None or limit <= 0:
            return []
        where = ["passages_fts MATCH ?", "p.agent_id = ?"]
        params: list[Any] = [match, agent_id]
        if start_at is not None:  # the passage ended at or after the window opened
            where.append("coalesce(p.end_at, p.start_at, p.created_at) >= ?")
            params.append(start_at)
        if end_at is not None:  # the passage started at or before the window closed
            where.append("coalesce(p.start_at, p.end_at, p.created_at) <= ?")
            params.append(end_at)
        return await self._fetch(
            action,
            # CROSS JOIN pins the FTS index as the outer loop: without ANALYZE statistics SQLite may instead walk
            # every passage of the agent and probe the index per row (100k passages: ~100 ms instead of ~10).
            f"SELECT {columns}, -bm25(passages_fts) FROM passages_fts CROSS JOIN passages p "
            f"ON p.rowid = passages_fts.rowid WHERE {' AND '.join(where)} ORDER BY bm25(passages_fts), p.created_at "
            "LIMIT ?",
            [*params, limit],
        )

    # --- memory jobs and vectors (sleeptime hand-off; added with migration 0002) ----------------------
    async def enqueue_memory_job(
        self, agent_id: str, kind: JobKind, payload: HandoffRange, *, through_seq: int,
        evict_through_seq: int | None = None, now: float,
    ) -> MemoryJob:
        """Insert a pending job and evict ``seq <= evict_through_seq`` in one transaction (both or neither)."""
        async with self._write("enqueue_memory_job") as db:
            if evict_through_seq is not None:
                await db.execute(
                    "UPDATE messages SET in_context = 0 WHERE agent_id = ? AND seq <= ? AND in_context = 1",
                    (agent_id, evict_through_seq),
                )
            found = list(await db.execute_fetchall(
                "INSERT INTO memory_jobs (agent_id, kind, payload, through_seq, status, attempts, run_after, "
                f"created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?) RETURNING {_JOB_COLUMNS}",
                (agent_id, kind, json.dumps(dataclasses.asdict(payload)), through_seq, now, now, now),
            ))
        return _job_from_row(found[0])

    async def handoff_watermark(self, agent_id: str) -> int:
        found = await self._fetch(
            "handoff_watermark", "SELECT coalesce(max(through_seq), 0) FROM memory_jobs WHERE agent_id = ?",
            (agent_id,),
        )
        return int(found[0][0])

    async def claim_memory_job(self, *, now: float) -> MemoryJob | None:
        """One statement, so two workers can never claim the same job or two jobs of one agent."""
        found = await self._exec_returning(
            "claim_memory_job",
            "UPDATE memory_jobs SET status = 'running', attempts = attempts + 1, updated_at = ?1 "
            "WHERE id = (SELECT j.id FROM memory_jobs j WHERE j.status = 'pending' AND j.run_after <= ?1 "
            "AND NOT EXISTS (SELECT 1 FROM memory_jobs r WHERE r.agent_id = j.agent_id AND r.status = 'running') "
            "AND NOT EXISTS (SELECT 1 FROM memory_jobs o WHERE o.agent_id = j.agent_id AND o.id < j.id "
            "AND o.status = 'pending') ORDER BY j.run_after, j.id LIMIT 1) AND status = 'pending' "
            f"RETURNING {_JOB_COLUMNS}",
            (now,),
        )
        return _job_from_row(found[0]) if found else None

    async def complete_memory_job(self, job_id: int, *, now: float) -> bool:
        changed = await self._exec(
            "complete_memory_job",
            "UPDATE memory_jobs SET status = 'done', error = NULL, updated_at = ? WHERE id = ? AND status = 'running'",
            (now, job_id),
        )
        return changed == 1

    async def fail_memory_job(self, job_id: int, error: str, *, retry_at: float | None, now: float) -> None:
        # retry_at NULL: failed for good; else back to pending, due at retry_at.
        await self._exec(
            "fail_memory_job",
            "UPDATE memory_jobs SET status = CASE WHEN ?2 IS NULL THEN 'failed' ELSE 'pending' END, error = ?1, "
            "run_after = coalesce(?2, run_after), updated_at = ?3 WHERE id = ?4 AND status = 'running'",
            (error, retry_at, now, job_id),
        )

    async def requeue_running_jobs(self, *, now: float) -> int:
        return await self._exec(
            "requeue_running_jobs",
            "UPDATE memory_jobs SET status = 'pending', run_after = ?1, updated_at = ?1 WHERE status = 'running'",
            (now,),
        )

    async def list_memory_jobs(self, agent_id: str, *, limit: int = 50) -> list[MemoryJob]:
        found = await self._fetch(
            "list_memory_jobs",
            f"SELECT {_JOB_COLUMNS} FROM memory_jobs WHERE agent_id = ? ORDER BY id DESC LIMIT ?",
            (agent_id, limit),
        )
        return [_job_from_row(r) for r in reversed(found)]

    async def insert_job_passages(self, job_id: int, passages: Sequence[tuple[str, Passage]]) -> list[str]:
        if not passages:
            return []
        width = R.column_count(R.PASSAGE_COLUMNS) + 2
        inserted: list[str] = []
        async with self._write("insert_job_passages") as db:
            # All passages of a job land in this one transaction: if the job already has some, this is a
            # re-run after a crash and everything it would store is already there.
            if await _exists(db, "SELECT 1 FROM passages WHERE job_id = ? LIMIT 1", job_id):
                return []
            for key, p in passages:
                if p.embedding is not None:
                    p = p.model_copy(update={"embedding_dim": len(p.embedding)})
                rows = await db.execute_fetchall(
                    f"INSERT INTO passages ({R.PASSAGE_COLUMNS}, job_id, chunk_key) VALUES {_values(width, 1)} "
                    "ON CONFLICT (job_id, chunk_key) DO NOTHING RETURNING id",
                    (*R.passage_params(p), job_id, key),
                )
                inserted.extend(r[0] for r in rows)
        return inserted

    async def get_passages(self, agent_id: str, passage_ids: Sequence[str]) -> list[Passage]:
        """The passages with these ids, in the order asked (unknown ids are skipped), without their vectors."""
        unique = list(dict.fromkeys(passage_ids))
        if not unique:
            return []
        columns = R.PASSAGE_COLUMNS.replace("embedding,", "NULL,", 1)  # callers show text; vectors stay put
        found = await self._fetch(
            "get_passages",
            # "+agent_id": look rows up by their unique id; without ANALYZE statistics SQLite would otherwise walk
            # the agent's whole (agent_id, created_at) index (measured: 87 ms at 100k passages, 0.2 ms by id).
            f"SELECT {columns} FROM passages WHERE +agent_id = ? AND id IN ({', '.join('?' * len(unique))})",
            (agent_id, *unique),
        )
        with translate_errors("decoding passages"):
            by_id = {p.id: p for p in (R.passage_from_row(r) for r in found)}
        return [by_id[i] for i in unique if i in by_id]

    async def search_passage_ids(
        self, agent_id: str, query: str, *, start_at: float | None = None, end_at: float | None = None,
        limit: int = 20,
    ) -> list[tuple[str, float]]:
        """``search_passages_text`` returning only (id, -bm25): no rows decoded for candidates fusion drops."""
        found = await self._search_passages("search_passage_ids", "p.id", agent_id, query, start_at, end_at, limit)
        return [(r[0], float(r[1])) for r in found]

    async def count_passages(self, agent_id: str) -> int:
        found = await self._fetch("count_passages", "SELECT count(*) FROM passages WHERE agent_id = ?", (agent_id,))
        return int(found[0][0])

    async def passages_to_reembed(
        self, agent_id: str, model: str, dim: int, *, limit: int
    ) -> tuple[list[Passage], int]:
        stale = "agent_id = ? AND (embedding IS NULL OR embedding_model IS NOT ? OR embedding_dim IS NOT ?)"
        columns = R.PASSAGE_COLUMNS.replace("embedding,", "NULL,", 1)
        found = await self._fetch(
            "passages_to_reembed", f"SELECT {columns} FROM passages WHERE {stale} ORDER BY rowid LIMIT ?",
            (agent_id, model, dim, max(limit, 0)))
        total = await self._fetch("count_passages_to_reembed", f"SELECT count(*) FROM passages WHERE {stale}",
                                  (agent_id, model, dim))
        with translate_errors("decoding passages"):
            return [R.passage_from_row(r) for r in found], int(total[0][0])

    async def set_passage_embeddings(
        self, agent_id: str, vectors: Sequence[tuple[str, Sequence[float]]], *, model: str
    ) -> int:
        if not vectors:
            return 0
        async with self._write("set_passage_embeddings") as db:
            cur = await db.executemany(
                "UPDATE passages SET embedding = ?, embedding_model = ?, embedding_dim = ? "
                "WHERE agent_id = ? AND id = ?",
                [(R.encode_embedding(v), model, len(v), agent_id, pid) for pid, v in vectors])
            return cur.rowcount

    async def load_passage_vectors(self, agent_id: str, model: str, dim: int) -> PassageVectors:
        found = await self._fetch(
            "load_passage_vectors",
            "SELECT id, embedding, coalesce(start_at, end_at, created_at), coalesce(end_at, start_at, created_at), "
            "embedding_model = ? AND embedding_dim = ? AND embedding IS NOT NULL FROM passages WHERE agent_id = ? "
            "ORDER BY rowid",
            (model, dim, agent_id),
        )
        good = [r for r in found if r[4]]
        return PassageVectors(
            ids=tuple(r[0] for r in good), vectors=b"".join(r[1] for r in good), dim=dim,
            start_at=tuple(float(r[2]) for r in good), end_at=tuple(float(r[3]) for r in good),
            other_models=len(found) - len(good),
        )

    # --- tools ---------------------------------------------------------------------------------------
    async def create_tool(self, tool: Tool) -> Tool:
        async with self._write("create_tool") as db:
            if await _exists(db, "SELECT 1 FROM tools WHERE name = ?", tool.name):
                raise ConflictError(f"a tool named {tool.name!r} already exists")
            if await _exists(db, "SELECT 1 FROM tools WHERE id = ?", tool.id):
                raise ConflictError(f"tool {tool.id} already exists")
            await db.execute(
                f"INSERT INTO tools ({R.TOOL_COLUMNS}) VALUES ({R.placeholders(R.TOOL_COLUMNS)})",
                R.tool_params(tool),
            )
        return tool

    async def get_tool(self, tool_id: str) -> Tool:
        found = await self._fetch("get_tool", f"{_SELECT_TOOL} WHERE id = ?", (tool_id,))
        if not found:
            raise NotFoundError(f"unknown tool {tool_id}")
        with translate_errors("decoding a tool"):
            return R.tool_from_row(found[0])

    async def list_tools(self) -> list[Tool]:
        found = await self._fetch("list_tools", f"{_SELECT_TOOL} ORDER BY name")
        with translate_errors("decoding tools"):
            return [R.tool_from_row(r) for r in found]

    async def delete_tool(self, tool_id: str) -> None:
        if await self._exec("delete_tool", "DELETE FROM tools WHERE id = ?", (tool_id,)) == 0:
            raise NotFoundError(f"unknown tool {tool_id}")

    async def attach_tool(self, agent_id: str, tool_id: str) -> None:
        async with self._write("attach_tool") as db:
            if not await _exists(db, "SELECT 1 FROM agents WHERE id = ?", agent_id):
                raise NotFoundError(f"unknown agent {agent_id}")
            if not await _exists(db, "SELECT 1 FROM tools WHERE id = ?", tool_id):
                raise NotFoundError(f"unknown tool {tool_id}")
            await db.execute(
                "INSERT INTO agent_tools (agent_id, tool_id, position) VALUES (?1, ?2, "
                "(SELECT coalesce(max(position), -1) + 1 FROM agent_tools WHERE agent_id = ?1)) "
                "ON CONFLICT (agent_id, tool_id) DO NOTHING",
                (agent_id, tool_id),
            )

    async def detach_tool(self, agent_id: str, tool_id: str) -> None:
        await self._exec(
            "detach_tool", "DELETE FROM agent_tools WHERE agent_id = ? AND tool_id = ?", (agent_id, tool_id)
        )

    # --- turns ---------------------------------------------------------------------------------------
    async def save_turn(self, turn: TurnRecord) -> None:
        """Insert or replace a turn record (a turn is saved when it starts and again when it ends)."""
        columns = [c.strip() for c in R.TURN_COLUMNS.split(",")]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
        await self._exec(
            "save_turn",
            f"INSERT INTO turns ({R.TURN_COLUMNS}) VALUES ({R.placeholders(R.TURN_COLUMNS)}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates}",
            R.turn_params(turn),
        )

    async def find_turn(self, agent_id: str, fingerprint: str) -> TurnRecord | None:
        """The most recent turn of the agent with this input fingerprint, if any."""
        found = await self._fetch(
            "find_turn",
            f"SELECT {R.TURN_COLUMNS} FROM turns WHERE agent_id = ? AND fingerprint = ? "
            "ORDER BY started_at DESC LIMIT 1",
            (agent_id, fingerprint),
        )
        if not found:
            return None
        with translate_errors("decoding a turn"):
            return R.turn_from_row(found[0])


async def open_store(path: str | Path) -> SqliteStore:
    """Open (creating it and its parent directories if needed) and migrate the database at ``path``."""
    path = Path(path)
    if str(path) != ":memory:":
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    conn = await connect(path)
    try:
        await migrate(conn)
    except BaseException:
        await asyncio.shield(conn.close())
        raise
    return SqliteStore(conn, path)


# --- SQL builders ---------------------------------------------------------------------------------------
# SQLite binds at most 32766 variables per statement; bigger batches are split inside one transaction.
_MAX_BOUND_VARS = 30_000
_T = TypeVar("_T")


def _chunked(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _flat(rows: Iterable[tuple[Any, ...]]) -> list[Any]:
    return [value for row in rows for value in row]


def _values(width: int, rows: int) -> str:
    one = "(" + ", ".join("?" * width) + ")"
    return ", ".join([one] * rows)


@functools.lru_cache(maxsize=64)
def _insert_sql(table: str, columns: str, rows: int) -> str:
    return f"INSERT INTO {table} ({columns}) VALUES {_values(R.column_count(columns), rows)}"


@functools.lru_cache(maxsize=64)
def _append_sql(rows: int) -> str:
    """Insert ``rows`` messages; ``seq`` = the agent's max seq before the statement + the row's ordinal ``k``.

    ``base`` is materialized once, before any row is inserted, so the rows of one statement do not see
    each other; ``ORDER BY n`` keeps the caller's order.
    """
    cols = R.MESSAGE_INSERT_COLUMNS
    return (
        f"WITH v(n, k, {cols}) AS (VALUES {_values(R.column_count(cols) + 2, rows)}), "
        "base(agent_id, seq) AS MATERIALIZED (SELECT agent_id, max(seq) FROM messages "
        "WHERE agent_id IN (SELECT agent_id FROM v) GROUP BY agent_id) "
        f"INSERT INTO messages ({cols}, seq) "
        f"SELECT {_qualified(cols, 'v')}, coalesce(base.seq, 0) + v.k "
        "FROM v LEFT JOIN base ON base.agent_id = v.agent_id ORDER BY v.n "
        "RETURNING id, seq"
    )


def _append_params(messages: Sequence[Message]) -> list[Any]:
    ordinal: dict[str, int] = {}
    params: list[Any] = []
    for n, m in enumerate(messages):
        k = ordinal[m.agent_id] = ordinal.get(m.agent_id, 0) + 1
        params.append(n)
        params.append(k)
        params.extend(R.message_insert_params(m))
    return params


# --- helpers used inside write transactions -----------------------------------------------------------
async def _exists(db: aiosqlite.Connection, sql: str, *params: Any) -> bool:
    return bool(list(await db.execute_fetchall(sql, params)))


async def _blocks_by_id(db: aiosqlite.Connection, ids: list[str]) -> dict[str, Block]:
    if not ids:
        return {}
    unique = list(dict.fromkeys(ids))
    found = await db.execute_fetchall(f"{_SELECT_BLOCK} WHERE id IN ({', '.join('?' * len(unique))})", unique)
    blocks = {b.id: b for b in (R.block_from_row(r) for r in found)}
    if missing := [i for i in unique if i not in blocks]:
        raise NotFoundError(f"unknown blocks: {missing}")
    return blocks


def _new_block(spec: NewBlock) -> Block:
    limit = spec.limit if spec.limit is not None else C.DEFAULT_BLOCK_CHAR_LIMIT
    if limit <= 0:
        raise ConfigError(f"block {spec.label!r}: the limit must be positive")
    if len(spec.value) > limit:
        raise ConfigError(f"block {spec.label!r} value is {len(spec.value)} characters; the limit is {limit}")
    return Block(
        id=new_block_id(), label=spec.label, value=spec.value, limit=limit, description=spec.description,
        read_only=spec.read_only,
    )


async def _check_label_free(db: aiosqlite.Connection, block_id: str, label: str) -> None:
    """A relabelled block must not clash with another block of any agent it is attached to."""
    if await _exists(
        db,
        "SELECT 1 FROM agent_blocks mine JOIN agent_blocks other ON other.agent_id = mine.agent_id "
        "JOIN blocks b ON b.id = other.block_id WHERE mine.block_id = ? AND b.id != ? AND b.label = ?",
        block_id, block_id, label,
    ):
        raise ConfigError(f"another block of the same agent is already labelled {label!r}")


# --- memory jobs (migration 0002) ------------------------------------------------------------------------
_JOB_COLUMNS = (
    "id, agent_id, kind, payload, through_seq, status, attempts, run_after, created_at, updated_at, error"
)


def _job_from_row(r: R.Row) -> MemoryJob:
    return MemoryJob(
        id=int(r[0]), agent_id=r[1], kind=r[2], payload=HandoffRange(**json.loads(r[3])), through_seq=int(r[4]),
        status=r[5], attempts=int(r[6]), run_after=float(r[7]), created_at=float(r[8]), updated_at=float(r[9]),
        error=r[10],
    )
