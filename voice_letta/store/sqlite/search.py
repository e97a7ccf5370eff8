"""Keyword search (FTS5, BM25) over spoken history and archival passages: ``SearchMixin`` of ``SqliteStore``.

- ``score = -bm25`` (higher is better); words too common to be worth scoring are left out first
  (``fts.select_terms`` with document counts from the ``fts5vocab`` tables, migration 0003);
- ``search_messages`` finds user and assistant messages out of the context window (only those are indexed);
- a time window on passages matches those whose ``[start_at, end_at]`` overlaps it; a passage with neither
  bound falls back to ``created_at``.
"""

from __future__ import annotations

from typing import Any

from voice_letta import config as C
from voice_letta.agent.ports import MessageHit, PassageHit
from voice_letta.store import rows as R
from voice_letta.store.fts import fts_match, fts_terms, porter_stem, select_terms
from voice_letta.store.sqlite.base import SqliteBase, qualified
from voice_letta.store.sqlite.db import translate_errors

_SEARCH_ROLES = "('user', 'assistant')"


class SearchMixin(SqliteBase):
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

    async def search_messages(
        self, agent_id: str, query: str, *, start_at: float | None = None, end_at: float | None = None,
        limit: int = C.DEFAULT_SEARCH_RESULTS,
    ) -> list[MessageHit]:
        """BM25-ranked user and assistant messages out of the context window (``score = -bm25``, higher is better).
        Only those are in ``messages_fts`` (migration 0014): a message enters it when it is evicted."""
        match = await self._keyword_match("messages_vocab", query)
        if match is None or limit <= 0:
            return []
        where = ["messages_fts MATCH ?", "m.agent_id = ?", f"m.role IN {_SEARCH_ROLES}", "m.in_context = 0"]
        params: list[Any] = [match, agent_id]
        if start_at is not None:
            where.append("m.created_at >= ?")
            params.append(start_at)
        if end_at is not None:
            where.append("m.created_at <= ?")
            params.append(end_at)
        found = await self._fetch(
            "search_messages",
            f"SELECT {qualified(R.MESSAGE_COLUMNS, 'm')}, -bm25(messages_fts) FROM messages_fts "
            f"JOIN messages m ON m.rowid = messages_fts.rowid WHERE {' AND '.join(where)} "
            "ORDER BY bm25(messages_fts), m.seq LIMIT ?",
            [*params, limit],
        )
        with translate_errors("decoding messages"):
            return [MessageHit(message=R.message_from_row(r), score=float(r[-1])) for r in found]

    async def search_passages_text(
        self, agent_id: str, query: str, *, start_at: float | None = None, end_at: float | None = None,
        limit: int = 20,
    ) -> list[PassageHit]:
        """BM25 over synopsis and text; the window keeps passages whose words were said inside it."""
        found = await self._search_passages("search_passages_text", qualified(R.PASSAGE_COLUMNS, "p"), agent_id,
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

    async def search_passage_ids(
        self, agent_id: str, query: str, *, start_at: float | None = None, end_at: float | None = None,
        limit: int = 20,
    ) -> list[tuple[str, float]]:
        """``search_passages_text`` returning only (id, -bm25): no rows decoded for candidates fusion drops."""
        found = await self._search_passages("search_passage_ids", "p.id", agent_id, query, start_at, end_at, limit)
        return [(r[0], float(r[1])) for r in found]
