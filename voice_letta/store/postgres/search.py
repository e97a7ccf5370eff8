"""Keyword search on PostgreSQL: BM25 over ``tsvector`` with each agent's own statistics (``SearchMixin``).

PostgreSQL's ``ts_rank`` has no inverse document frequency, so the score is BM25 computed here (k1 = 1.2,
b = 0.75, FTS5's defaults) from per-agent counts that triggers keep (migration 0001): ``fts_terms`` (documents of
the agent containing a term), ``fts_docs`` (the agent's documents and total length). So, unlike FTS5, whose counts
are per database, an agent's ranking depends on its own memory only. The query's words are the english
configuration's stems (stopwords dropped), kept rarest first while their document counts add up to at most
``keyword_doc_budget``, the same rule as the SQLite store's ``fts.select_terms``; a GIN index on the tsvector
finds the candidates. Scores are positive, higher is better, like the SQLite store's ``-bm25``.
"""

from __future__ import annotations

from typing import Any

from voice_letta import config as C
from voice_letta.agent.ports import MessageHit, PassageHit
from voice_letta.store import rows as R
from voice_letta.store.fts import MAX_QUERY_TERMS
from voice_letta.store.postgres.base import PgBase, cols
from voice_letta.store.postgres.db import translate_errors

K1 = 1.2
B = 0.75


def _bm25_sql(table: str, kind: str, columns: str, extra_where: str, order_tiebreak: str) -> str:
    """Parameters: $1 agent id, $2 query text, $3 document budget, $4 limit, then the extra filters' ($5...)."""
    return (
        "WITH q AS (SELECT DISTINCT lexeme FROM unnest(tsvector_to_array(to_tsvector('english', $2))) "
        f"  AS lexeme LIMIT {MAX_QUERY_TERMS}), "
        "st AS (SELECT q.lexeme, coalesce(t.docs, 0) AS df FROM q LEFT JOIN fts_terms t "
        f"  ON t.agent_id = $1 AND t.kind = '{kind}' AND t.term = q.lexeme), "
        "kept AS (SELECT lexeme, df FROM (SELECT lexeme, df, sum(df) OVER (ORDER BY df, lexeme) AS spent "
        "  FROM st WHERE df > 0) s WHERE spent <= $3), "
        "tot AS (SELECT docs::float8 AS n, greatest(total_len::float8 / greatest(docs, 1), 1) AS avgdl "
        f"  FROM fts_docs WHERE agent_id = $1 AND kind = '{kind}'), "
        "query AS (SELECT to_tsquery('simple', string_agg(quote_literal(lexeme), ' | ')) AS tsq FROM kept), "
        "scored AS (SELECT d.pos, sum(ln(1 + (tot.n - kept.df + 0.5) / (kept.df + 0.5)) "
        f"  * (u.tf * {K1 + 1}) / (u.tf + {K1} * ({1 - B} + {B} * d.doc_len / tot.avgdl))) AS score "
        f"  FROM {table} d CROSS JOIN tot CROSS JOIN query "
        "  CROSS JOIN LATERAL (SELECT x.lexeme, coalesce(array_length(x.positions, 1), 1) AS tf "
        "  FROM unnest(d.tsv) x) u "
        "  JOIN kept ON kept.lexeme = u.lexeme "
        f"  WHERE d.agent_id = $1 AND d.tsv @@ query.tsq {extra_where} GROUP BY d.pos) "
        f"SELECT {columns}, scored.score FROM scored JOIN {table} d ON d.pos = scored.pos "
        f"ORDER BY scored.score DESC, {order_tiebreak} LIMIT $4"
    )


class SearchMixin(PgBase):
    async def search_messages(
        self, agent_id: str, query: str, *, start_at: float | None = None, end_at: float | None = None,
        limit: int = C.DEFAULT_SEARCH_RESULTS,
    ) -> list[MessageHit]:
        """Messages out of the context window only, as on SQLite (the model already sees the others)."""
        query = query.replace("\x00", " ")  # PostgreSQL text cannot hold NUL
        if limit <= 0 or not query.strip():
            return []
        where, args = _window("d.created_at", "d.created_at", start_at, end_at)
        where += " AND d.in_context = 0"
        found = await self._fetch(
            "search_messages", _bm25_sql("messages", "m", cols(R.MESSAGE_COLUMNS, "d"), where, "d.seq"),
            agent_id, query, self.keyword_doc_budget, limit, *args)
        with translate_errors("decoding messages"):
            return [MessageHit(message=R.message_from_row(r), score=float(r[-1])) for r in found]

    async def search_passages_text(
        self, agent_id: str, query: str, *, start_at: float | None = None, end_at: float | None = None,
        limit: int = 20,
    ) -> list[PassageHit]:
        found = await self._search_passages("search_passages_text", cols(R.PASSAGE_COLUMNS, "d"), agent_id, query,
                                            start_at, end_at, limit)
        with translate_errors("decoding passages"):
            return [PassageHit(passage=R.passage_from_row(r), score=float(r[-1])) for r in found]

    async def search_passage_ids(
        self, agent_id: str, query: str, *, start_at: float | None = None, end_at: float | None = None,
        limit: int = 20,
    ) -> list[tuple[str, float]]:
        found = await self._search_passages("search_passage_ids", "d.id", agent_id, query, start_at, end_at, limit)
        return [(r[0], float(r[1])) for r in found]

    async def _search_passages(
        self, action: str, columns: str, agent_id: str, query: str, start_at: float | None, end_at: float | None,
        limit: int,
    ) -> list[Any]:
        query = query.replace("\x00", " ")
        if limit <= 0 or not query.strip():
            return []
        # a passage matches a window its [start_at, end_at] overlaps; with neither bound, created_at stands in
        where, args = _window("coalesce(d.end_at, d.start_at, d.created_at)",
                              "coalesce(d.start_at, d.end_at, d.created_at)", start_at, end_at)
        return await self._fetch(action, _bm25_sql("passages", "p", columns, where, "d.created_at"),
                                 agent_id, query, self.keyword_doc_budget, limit, *args)


def _window(ends: str, starts: str, start_at: float | None, end_at: float | None) -> tuple[str, list[Any]]:
    where, args = "", []
    if start_at is not None:
        args.append(start_at)
        where += f" AND {ends} >= ${4 + len(args)}"
    if end_at is not None:
        args.append(end_at)
        where += f" AND {starts} <= ${4 + len(args)}"
    return where, args
