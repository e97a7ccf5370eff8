"""Archival passages and their vectors: ``PassagesMixin`` of ``SqliteStore``.

Vectors are float32 little-endian BLOBs; ``load_passage_vectors`` hands an agent's vectors of one model to
the in-memory index (``agent/memory_search.py``) in one query. Keyword search lives in ``search.py``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from voice_letta.agent.models import Passage
from voice_letta.agent.ports import CrossVectors, KeyedPassages, PassageTexts, PassageVectors
from voice_letta.errors import ConflictError, NotFoundError
from voice_letta.store import rows as R
from voice_letta.store.common import (
    chunked,
    finish_params,
    flat,
    key_finished,
    passage_rows,
    passage_texts,
    prepared_passages,
)
from voice_letta.store.sqlite.base import MAX_BOUND_VARS, SqliteBase, exists, insert_sql, supersede
from voice_letta.store.sqlite.db import translate_errors
from voice_letta.store.sqlite.request_keys import FINISH

# ?1 text, ?2 synopsis, ?3 embedding, ?4 model, ?5 dim, ?6 start, ?7 end, ?8 terms, ?9 id, ?10 agent; ?11 1 for a
# compare-and-set on ?12 text, ?13 synopsis, ?14 start, ?15 end as read. A column on the right of SET is the row before
# the update: the cross-lingual vector stays only when the words did not change.
UPDATE_PASSAGE = (
    "UPDATE passages SET cross_model = CASE WHEN text = ?1 AND synopsis = ?2 THEN cross_model END, "
    "cross_embedding = CASE WHEN text = ?1 AND synopsis = ?2 THEN cross_embedding END, text = ?1, synopsis = ?2, "
    "embedding = ?3, embedding_model = ?4, embedding_dim = ?5, start_at = ?6, end_at = ?7, terms = ?8 "
    "WHERE id = ?9 AND agent_id = ?10 AND (?11 = 0 OR (text IS ?12 AND synopsis IS ?13 AND start_at IS ?14 "
    f"AND end_at IS ?15)) RETURNING {R.PASSAGE_COLUMNS.replace('embedding,', 'NULL,', 1)}"
)
_RELINK = ("UPDATE passages SET superseded_by = ?, superseded_at = CASE WHEN ? IS NULL THEN NULL ELSE superseded_at "
           "END WHERE agent_id = ? AND superseded_by = ?")


class PassagesMixin(SqliteBase):
    # --- passages ------------------------------------------------------------------------------------
    async def insert_passages(self, passages: Sequence[Passage]) -> list[Passage]:
        """Store passages; ``embedding_dim`` is filled in from the embedding when missing."""
        stored = prepared_passages(passages)
        if not stored:
            return []
        rows = await passage_rows(stored)
        chunks = list(chunked(rows, MAX_BOUND_VARS // R.column_count(R.PASSAGE_INSERT_COLUMNS)))
        if len(chunks) == 1:
            await self._exec("insert_passages", insert_sql("passages", R.PASSAGE_INSERT_COLUMNS, len(stored)),
                             flat(rows))
        else:
            async with self._write("insert_passages") as db:
                for chunk in chunks:
                    await db.execute(insert_sql("passages", R.PASSAGE_INSERT_COLUMNS, len(chunk)), flat(chunk))
        return stored

    async def write_passages(
        self, passages: Sequence[Passage], supersedes: Sequence[Sequence[str]], *, keyed: KeyedPassages | None = None
    ) -> tuple[list[Passage], list[list[str]]]:
        """One ``BEGIN IMMEDIATE`` transaction: the insert, each passage's supersession marks, and with ``keyed``
        the key's first response (its claim gone: ``KeyClaimLost``, rolled back)."""
        stored = prepared_passages(passages)
        rows = await passage_rows(stored)
        width = MAX_BOUND_VARS // R.column_count(R.PASSAGE_INSERT_COLUMNS)
        marked: list[list[str]] = []
        async with self._write("write_passages") as db:
            for chunk in chunked(rows, width):
                await db.execute(insert_sql("passages", R.PASSAGE_INSERT_COLUMNS, len(chunk)), flat(chunk))
            for p, old_ids in zip(stored, supersedes, strict=True):
                old = [i for i in dict.fromkeys(old_ids) if i != p.id]
                marked.append(await supersede(db, p.agent_id, old, p.id, p.created_at) if old else [])
            if keyed is not None:
                cursor = await db.execute(FINISH, finish_params(keyed.held, *keyed.respond(stored, marked)))
                key_finished(cursor.rowcount, keyed.held)
        return stored, marked

    async def update_passage(self, passage: Passage, *, expected: Passage | None = None,
                             keyed: KeyedPassages | None = None) -> Passage:
        """One ``BEGIN IMMEDIATE`` transaction: the update (the FTS index and the change log follow by trigger) and,
        with ``keyed``, the key's first response."""
        [ready] = prepared_passages([passage])
        [row] = await passage_rows([ready])
        was = (0, None, None, None, None) if expected is None else (
            1, R.text_param(expected.text), R.text_param(expected.synopsis), expected.start_at, expected.end_at)
        params = (row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[13], ready.id, ready.agent_id, *was)
        async with self._write("update_passage") as db:
            found = list(await db.execute_fetchall(UPDATE_PASSAGE, params))
            if not found:
                if await exists(db, "SELECT 1 FROM passages WHERE id = ? AND agent_id = ?", ready.id,
                                ready.agent_id):
                    raise ConflictError(f"passage {passage.id} changed while it was being edited")
                raise NotFoundError(f"unknown passage {passage.id} of agent {passage.agent_id}")
            with translate_errors("decoding a passage"):
                updated = R.passage_from_row(found[0])
            if keyed is not None:
                cursor = await db.execute(FINISH, finish_params(keyed.held, *keyed.respond([updated], [[]])))
                key_finished(cursor.rowcount, keyed.held)
        return updated

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
        """Delete a passage; what it superseded is superseded by its own successor now, or current again (no
        ``superseded_by`` naming a passage that is gone)."""

        def work(conn: sqlite3.Connection) -> int:
            gone = conn.execute("DELETE FROM passages WHERE id = ? AND agent_id = ? RETURNING superseded_by",
                                (passage_id, agent_id)).fetchall()
            if gone:
                conn.execute(_RELINK, (gone[0][0], gone[0][0], agent_id, passage_id))
            return len(gone)

        if await self._transaction("delete_passage", work) == 0:
            raise NotFoundError(f"unknown passage {passage_id} of agent {agent_id}")

    async def get_passages(
        self, agent_id: str, passage_ids: Sequence[str], *, with_vectors: bool = False
    ) -> list[Passage]:
        """The passages with these ids, in the order asked (unknown ids are skipped), without their vectors
        unless ``with_vectors`` (another process's new passages, for this process's vector index)."""
        unique = list(dict.fromkeys(passage_ids))
        if not unique:
            return []
        # callers show text; vectors stay put
        columns = R.PASSAGE_COLUMNS if with_vectors else R.PASSAGE_COLUMNS.replace("embedding,", "NULL,", 1)
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
        self, agent_id: str, vectors: Sequence[tuple[str, Sequence[float]]], *, model: str,
        embedded_from: Sequence[tuple[str, str]] | None = None,
    ) -> int:
        if not vectors:
            return 0
        words = [(None, None)] * len(vectors) if embedded_from is None else [
            (R.text_param(t), R.text_param(s)) for t, s in embedded_from]
        async with self._write("set_passage_embeddings") as db:
            cur = await db.executemany(
                "UPDATE passages SET embedding = ?1, embedding_model = ?2, embedding_dim = ?3 "
                "WHERE agent_id = ?4 AND id = ?5 AND (?6 IS NULL OR (coalesce(text, '') = ?6 "
                "AND coalesce(synopsis, '') = ?7))",
                [(R.encode_embedding(v), model, len(v), agent_id, pid, t, s)
                 for (pid, v), (t, s) in zip(vectors, words, strict=True)])
            return cur.rowcount

    async def load_passage_texts(self, agent_id: str) -> PassageTexts:
        found = await self._fetch(
            "load_passage_texts",
            "SELECT id, text, synopsis, coalesce(start_at, end_at, created_at), "
            "coalesce(end_at, start_at, created_at), terms, superseded_by FROM passages WHERE agent_id = ? "
            "ORDER BY rowid",
            (agent_id,),
        )
        return passage_texts(found)

    async def mark_superseded(self, agent_id: str, old_ids: Sequence[str], new_id: str, *, at: float) -> list[str]:
        old = [i for i in dict.fromkeys(old_ids) if i != new_id]
        if not old:
            return []
        async with self._write("mark_superseded") as db:
            return await supersede(db, agent_id, old, new_id, at)

    async def set_passage_terms(self, agent_id: str, terms: Sequence[tuple[str, bytes]]) -> int:
        if not terms:
            return 0
        async with self._write("set_passage_terms") as db:
            cur = await db.executemany("UPDATE passages SET terms = ? WHERE agent_id = ? AND id = ?",
                                       [(blob, agent_id, pid) for pid, blob in terms])
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

    async def load_cross_vectors(self, agent_id: str, model: str, dim: int) -> CrossVectors:
        found = await self._fetch(
            "load_cross_vectors",
            "SELECT id, cross_embedding, cross_model IS ? FROM passages WHERE agent_id = ? "
            "AND (cross_model IS NOT ? OR length(cross_embedding) = ?) ORDER BY rowid",
            (model, agent_id, model, 4 * dim),
        )
        good = [r for r in found if r[2]]
        return CrossVectors(ids=tuple(r[0] for r in good), vectors=b"".join(r[1] for r in good), dim=dim,
                            unjudged=tuple(r[0] for r in found if not r[2]))

    async def set_cross_vectors(
        self, agent_id: str, vectors: Sequence[tuple[str, Sequence[float] | None]], *, model: str
    ) -> int:
        if not vectors:
            return 0
        async with self._write("set_cross_vectors") as db:
            cur = await db.executemany(
                "UPDATE passages SET cross_model = ?, cross_embedding = ? WHERE agent_id = ? AND id = ?",
                [(model, None if v is None else R.encode_embedding(v), agent_id, pid) for pid, v in vectors])
            return cur.rowcount
