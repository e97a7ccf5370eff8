"""Archival passages and their vectors on PostgreSQL: ``PassagesMixin`` of ``PostgresStore``.

Vectors are float32 little-endian ``bytea`` exactly as in SQLite and are searched the same way: the server loads
an agent's vectors into its in-memory index (``load_passage_vectors``). pgvector is not needed (see
``PostgresStore.pgvector_available``).
"""

from __future__ import annotations

from collections.abc import Sequence

from voice_letta.agent.models import Passage
from voice_letta.agent.ports import CrossVectors, KeyedPassages, PassageTexts, PassageVectors
from voice_letta.errors import ConflictError, NotFoundError
from voice_letta.store import rows as R
from voice_letta.store.common import finish_params, key_finished, passage_rows, passage_texts, prepared_passages
from voice_letta.store.postgres.base import PgBase, params, rowcount, supersede
from voice_letta.store.postgres.db import translate_errors
from voice_letta.store.postgres.request_keys import FINISH

INSERT_PASSAGE = f"INSERT INTO passages ({R.PASSAGE_INSERT_COLUMNS}) VALUES ({params(R.PASSAGE_INSERT_COLUMNS)})"
_NO_VECTOR = R.PASSAGE_COLUMNS.replace("embedding,", "NULL::bytea,", 1)
# as SQLite's UPDATE_PASSAGE ($1 text … $10 agent): the cross-lingual vector stays only when the words did not change
_UPDATE = (
    "UPDATE passages SET cross_model = CASE WHEN text = $1 AND synopsis = $2 THEN cross_model END, "
    "cross_embedding = CASE WHEN text = $1 AND synopsis = $2 THEN cross_embedding END, text = $1, synopsis = $2, "
    "embedding = $3, embedding_model = $4, embedding_dim = $5, start_at = $6, end_at = $7, terms = $8 "
    "WHERE id = $9 AND agent_id = $10 AND (NOT $11::boolean OR (text IS NOT DISTINCT FROM $12::text "
    "AND synopsis IS NOT DISTINCT FROM $13::text AND start_at IS NOT DISTINCT FROM $14::double precision "
    f"AND end_at IS NOT DISTINCT FROM $15::double precision)) RETURNING {_NO_VECTOR}"
)


class PassagesMixin(PgBase):
    async def insert_passages(self, passages: Sequence[Passage]) -> list[Passage]:
        stored = prepared_passages(passages)
        if stored:
            rows = await passage_rows(stored)
            async with self._tx("insert_passages") as db:
                await db.executemany(INSERT_PASSAGE, rows)
        return stored

    async def write_passages(
        self, passages: Sequence[Passage], supersedes: Sequence[Sequence[str]], *, keyed: KeyedPassages | None = None
    ) -> tuple[list[Passage], list[list[str]]]:
        """As SQLite's: insert, supersession marks and the key's first response in one transaction. The key's
        UPDATE locks its row, so a retry that would take the claim over waits for this commit and then replays."""
        stored = prepared_passages(passages)
        rows = await passage_rows(stored)
        marked: list[list[str]] = []
        async with self._tx("write_passages") as db:
            if rows:
                await db.executemany(INSERT_PASSAGE, rows)
            for p, old_ids in zip(stored, supersedes, strict=True):
                old = [i for i in dict.fromkeys(old_ids) if i != p.id]
                marked.append(await supersede(db, p.agent_id, old, p.id, p.created_at) if old else [])
            if keyed is not None:
                done = await db.execute(FINISH, *finish_params(keyed.held, *keyed.respond(stored, marked)))
                key_finished(rowcount(done), keyed.held)
        return stored, marked

    async def update_passage(self, passage: Passage, *, expected: Passage | None = None,
                             keyed: KeyedPassages | None = None) -> Passage:
        """As SQLite's: the update (tsvector, keyword statistics and the change log follow by trigger) and the key's
        first response in one transaction."""
        [ready] = prepared_passages([passage])
        [row] = await passage_rows([ready])
        async with self._tx("update_passage") as db:
            was = (False, None, None, None, None) if expected is None else (
                True, R.text_param(expected.text), R.text_param(expected.synopsis), expected.start_at,
                expected.end_at)
            found = await db.fetch(_UPDATE, row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[13],
                                   ready.id, ready.agent_id, *was)
            if not found:
                if await db.fetchval("SELECT 1 FROM passages WHERE id = $1 AND agent_id = $2", ready.id,
                                     ready.agent_id):
                    raise ConflictError(f"passage {passage.id} changed while it was being edited")
                raise NotFoundError(f"unknown passage {passage.id} of agent {passage.agent_id}")
            with translate_errors("decoding a passage"):
                updated = R.passage_from_row(found[0])
            if keyed is not None:
                done = await db.execute(FINISH, *finish_params(keyed.held, *keyed.respond([updated], [[]])))
                key_finished(rowcount(done), keyed.held)
        return updated

    async def list_passages(self, agent_id: str, *, limit: int = 100, offset: int = 0) -> list[Passage]:
        found = await self._fetch("list_passages", f"SELECT {R.PASSAGE_COLUMNS} FROM passages WHERE agent_id = $1 "
                                  "ORDER BY created_at, pos LIMIT $2 OFFSET $3", agent_id, limit, offset)
        with translate_errors("decoding passages"):
            return [R.passage_from_row(r) for r in found]

    async def delete_passage(self, agent_id: str, passage_id: str) -> None:
        """As SQLite's: what the passage superseded is superseded by its successor now, or current again."""
        async with self._tx("delete_passage") as conn:
            gone = await conn.fetch("DELETE FROM passages WHERE id = $1 AND agent_id = $2 RETURNING superseded_by",
                                    passage_id, agent_id)
            if gone:
                await conn.execute(
                    "UPDATE passages SET superseded_by = $1, superseded_at = CASE WHEN $1::text IS NULL THEN NULL "
                    "ELSE superseded_at END WHERE agent_id = $2 AND superseded_by = $3",
                    gone[0][0], agent_id, passage_id)
        if not gone:
            raise NotFoundError(f"unknown passage {passage_id} of agent {agent_id}")

    async def get_passages(
        self, agent_id: str, passage_ids: Sequence[str], *, with_vectors: bool = False
    ) -> list[Passage]:
        unique = list(dict.fromkeys(passage_ids))
        if not unique:
            return []
        columns = R.PASSAGE_COLUMNS if with_vectors else _NO_VECTOR
        found = await self._fetch("get_passages", f"SELECT {columns} FROM passages WHERE agent_id = $1 "
                                  "AND id = ANY($2::text[])", agent_id, unique)
        with translate_errors("decoding passages"):
            by_id = {p.id: p for p in (R.passage_from_row(r) for r in found)}
        return [by_id[i] for i in unique if i in by_id]

    async def count_passages(self, agent_id: str) -> int:
        found = await self._fetch("count_passages", "SELECT count(*) FROM passages WHERE agent_id = $1", agent_id)
        return int(found[0][0])

    async def passages_to_reembed(
        self, agent_id: str, model: str, dim: int, *, limit: int
    ) -> tuple[list[Passage], int]:
        stale = ("agent_id = $1 AND (embedding IS NULL OR embedding_model IS DISTINCT FROM $2 "
                 "OR embedding_dim IS DISTINCT FROM $3)")
        found = await self._fetch("passages_to_reembed", f"SELECT {_NO_VECTOR} FROM passages WHERE {stale} "
                                  "ORDER BY pos LIMIT $4", agent_id, model, dim, max(limit, 0))
        total = await self._fetch("count_passages_to_reembed", f"SELECT count(*) FROM passages WHERE {stale}",
                                  agent_id, model, dim)
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
        async with self._tx("set_passage_embeddings") as db:
            status = await db.execute(
                "UPDATE passages p SET embedding = v.embedding, embedding_model = $2, embedding_dim = v.dim "
                "FROM unnest($3::text[], $4::bytea[], $5::int[], $6::text[], $7::text[]) "
                "AS v(id, embedding, dim, text, synopsis) "
                "WHERE p.agent_id = $1 AND p.id = v.id AND (v.text IS NULL OR (coalesce(p.text, '') = v.text "
                "AND coalesce(p.synopsis, '') = v.synopsis))",
                agent_id, model, [pid for pid, _ in vectors], [R.encode_embedding(v) for _, v in vectors],
                [len(v) for _, v in vectors], [t for t, _ in words], [s for _, s in words])
        return int(status.rsplit(" ", 1)[-1])

    async def load_passage_texts(self, agent_id: str) -> PassageTexts:
        found = await self._fetch(
            "load_passage_texts",
            "SELECT id, text, synopsis, coalesce(start_at, end_at, created_at), "
            "coalesce(end_at, start_at, created_at), terms, superseded_by FROM passages WHERE agent_id = $1 "
            "ORDER BY pos", agent_id)
        return passage_texts(found)

    async def mark_superseded(self, agent_id: str, old_ids: Sequence[str], new_id: str, *, at: float) -> list[str]:
        old = [i for i in dict.fromkeys(old_ids) if i != new_id]
        if not old:
            return []
        async with self._tx("mark_superseded") as db:
            return await supersede(db, agent_id, old, new_id, at)

    async def set_passage_terms(self, agent_id: str, terms: Sequence[tuple[str, bytes]]) -> int:
        if not terms:
            return 0
        async with self._tx("set_passage_terms") as db:
            status = await db.execute(
                "UPDATE passages p SET terms = v.terms FROM unnest($2::text[], $3::bytea[]) AS v(id, terms) "
                "WHERE p.agent_id = $1 AND p.id = v.id", agent_id, [pid for pid, _ in terms], [b for _, b in terms])
        return int(status.rsplit(" ", 1)[-1])

    async def load_passage_vectors(self, agent_id: str, model: str, dim: int) -> PassageVectors:
        found = await self._fetch(
            "load_passage_vectors",
            "SELECT id, embedding, coalesce(start_at, end_at, created_at), coalesce(end_at, start_at, created_at), "
            "coalesce(embedding_model = $1 AND embedding_dim = $2 AND embedding IS NOT NULL, false) "
            "FROM passages WHERE agent_id = $3 ORDER BY pos", model, dim, agent_id)
        good = [r for r in found if r[4]]
        return PassageVectors(
            ids=tuple(r[0] for r in good), vectors=b"".join(r[1] for r in good), dim=dim,
            start_at=tuple(float(r[2]) for r in good), end_at=tuple(float(r[3]) for r in good),
            other_models=len(found) - len(good))

    async def load_cross_vectors(self, agent_id: str, model: str, dim: int) -> CrossVectors:
        found = await self._fetch(
            "load_cross_vectors",
            "SELECT id, cross_embedding, cross_model IS NOT DISTINCT FROM $1 FROM passages WHERE agent_id = $2 "
            "AND (cross_model IS DISTINCT FROM $1 OR length(cross_embedding) = $3) ORDER BY pos",
            model, agent_id, 4 * dim)
        good = [r for r in found if r[2]]
        return CrossVectors(ids=tuple(r[0] for r in good), vectors=b"".join(r[1] for r in good), dim=dim,
                            unjudged=tuple(r[0] for r in found if not r[2]))

    async def set_cross_vectors(
        self, agent_id: str, vectors: Sequence[tuple[str, Sequence[float] | None]], *, model: str
    ) -> int:
        if not vectors:
            return 0
        async with self._tx("set_cross_vectors") as db:
            status = await db.execute(
                "UPDATE passages p SET cross_model = $2, cross_embedding = v.vector "
                "FROM unnest($3::text[], $4::bytea[]) AS v(id, vector) WHERE p.agent_id = $1 AND p.id = v.id",
                agent_id, model, [pid for pid, _ in vectors],
                [None if v is None else R.encode_embedding(v) for _, v in vectors])
        return int(status.rsplit(" ", 1)[-1])
