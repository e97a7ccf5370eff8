"""The built-in ``search_memory`` tool and archival search: one agent's memory, ranked and dated.

Per agent, in memory (``agent.recall``): the passages' vectors, BM25 postings with the agent's own statistics,
when each was said and who said it. A search embeds its queries (the user's utterance plus up to three keyword
queries from the model), fuses cosine and BM25 by z-score per query and keeps each passage's best query (see
``recall/index.py`` and ``recall/ranking.py``; ``recall/loaded.py`` keeps the loaded indexes), then adds the
out-of-context messages (evicted lines not yet archived, found by keyword in the agent's own in-memory postings,
``recall/messages.py``, and scored with the agent's BM25 statistics).
Every result carries a ``confidence`` (``recall/confidence.py``); ``search_memory`` tells the model when nothing
is confidently relevant (``recall/results.py``: the hits and the dated lines the model reads).

The time window applies to when things were *said*: a passage matches when its [start_at, end_at] overlaps the
window, a message when its created_at is inside it.

Embedding models: a passage embedded by another model (or dimension) than the agent's current embedder is
left out of vector scoring (its vector is not comparable) but is still found by BM25; the count is logged
and returned by ``keyword_only``. Re-embedding such passages is an explicit operation, not done on the
search path. Without an embedder the search is keyword-only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np

from voice_letta.agent.models import EmbeddingConfig, Passage
from voice_letta.agent.ports import CrossEmbedder, Embedder, EmbedderFactory, MessageHit, Store
from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.confidence import CONFIDENT
from voice_letta.agent.recall.index import PassageIndex
from voice_letta.agent.recall.listing import (
    fill_window,
    format_filled,
    format_part,
    list_window,
    listing_note,
    planned_for,
)
from voice_letta.agent.recall.loaded import NO_EMBEDDER, THREAD_QUERY_CHARS, THREAD_THRESHOLD_VALUES, LoadedIndexes
from voice_letta.agent.recall.messages import MessageIndex
from voice_letta.agent.recall.ranking import Ranked
from voice_letta.agent.recall.related import related_passages
from voice_letta.agent.recall.relations import relation_words
from voice_letta.agent.recall.results import Hit, format_hits, merge_messages, when
from voice_letta.agent.recall.synonyms import Expansion, expand, names_a_speaker, said_in, with_words
from voice_letta.agent.recall.timewords import dated_ranges, names_no_topic, part_of_day, tenseless_window, window_for
from voice_letta.agent.recall.values import judged
from voice_letta.agent.recall.vector import (
    COARSE_CANDIDATES,
    COARSE_MIN_ROWS,
    MIN_COSINE,
    PREFETCH_MIN_PASSAGES,
    SearchWindow,
    VectorIndex,
    sign_words,
    window_from_minutes,
)

log = logging.getLogger(__name__)

__all__ = [
    "COARSE_CANDIDATES", "COARSE_MIN_ROWS", "MIN_COSINE", "PREFETCH_MIN_PASSAGES", "Hit", "MemorySearch",
    "SearchWindow", "VectorIndex", "format_hits", "sign_words", "when", "window_from_minutes",
]

MAX_QUERIES = 4
MESSAGE_CANDIDATES = 20  # out-of-context messages taken per query (by the agent's own BM25) into the merge
MESSAGE_THREAD_ROWS = 2_000  # a message tail longer than this is indexed in a thread (a first load)
THREAD_JUDGE_CHARS = 8_000  # the characters of the question and the results it judges
# Out-of-context line indexes are bounded by rows like passage indexes (recall/loaded.py).
QUERY_CACHE_SIZE = 256
WINDOW_LIST_LIMIT = 12  # lines listed for a question about a time ("what did I tell you yesterday?")
# The embedded model copies the tool schema's type names into its keywords (["array", "null"]): searched, they made
# "what did I tell you yesterday?" a question about a topic, so yesterday's lines were ranked against "array".
SCHEMA_TYPE_WORDS = frozenset({"array", "null", "string", "integer", "number", "boolean", "object"})


class _SingleEmbedder:
    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def for_config(self, config: Any) -> Embedder:
        return self.embedder


# --- search -----------------------------------------------------------------------------------------------


class MemorySearch:
    """search_memory and archival search for every agent of the process. The embedder is optional."""

    def __init__(
        self, store: Store, embedder: Embedder | EmbedderFactory | None = None, *, limit: int = 5,
        cross: CrossEmbedder | None = None,
    ) -> None:
        """``cross``: the second, cross-lingual embedder for passages the agent's own cannot read
        (``recall/cross.py``; None: no second lane)."""
        self._store = store
        self._embedders: EmbedderFactory | None
        if embedder is None or hasattr(embedder, "for_config"):
            self._embedders = embedder  # type: ignore[assignment]
        else:
            self._embedders = _SingleEmbedder(embedder)
        self._limit = limit
        self.indexes = LoadedIndexes(store, cross)
        self._query_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        # out-of-context lines per agent (keyword only), least recently searched first
        self._message_indexes: OrderedDict[str, MessageIndex] = OrderedDict()

    # -- index maintenance (called by the memory manager and the REST layer) ------------------------------
    async def index_passages(self, agent_id: str, passages: Sequence[Passage]) -> None:
        """Append new passages to a loaded index (an index not loaded yet will read them from the store)."""
        await self.indexes.add(agent_id, passages)

    def supersede(self, agent_id: str, old_ids: Sequence[str], new_id: str) -> None:
        self.indexes.supersede(agent_id, old_ids, new_id)

    def keyword_only(self, agent_id: str) -> int:
        """Passages of a loaded index embedded with another model (found by BM25 only)."""
        index = self.indexes.get(agent_id)
        return 0 if index is None else index.other_models

    def forget(self, agent_id: str, *, reload: bool = False) -> None:
        """Drop an agent's index (passages deleted or re-embedded); the next search reloads it, or a background
        load now when ``reload`` and it was loaded (``LoadedIndexes.forget``). (Out-of-context lines do not depend
        on passages: their index stays.)"""
        self.indexes.forget(agent_id, reload=reload)

    async def embedder_for(self, agent_id: str) -> Embedder | None:
        if self._embedders is None:
            return None
        agent = await self._store.get_agent(agent_id)
        return self._embedders.for_config(agent.embedding)

    def embedder_for_config(self, config: EmbeddingConfig) -> Embedder | None:
        """The embedder an agent with ``config`` would get (raises ConfigError for one this server cannot run)."""
        return None if self._embedders is None else self._embedders.for_config(config)

    async def _index(self, agent_id: str, embedder: Embedder | None) -> PassageIndex:
        model, dim = (embedder.model, embedder.dim) if embedder is not None else NO_EMBEDDER
        return await self.indexes.index(agent_id, model, dim)

    def wants_prefetch(self, agent_id: str) -> bool:
        """Worth a head start: the agent's index is not loaded yet (loading 100k passages takes ~1 s), or its
        archive is large enough that embedding the utterance ahead of a search pays. Turns of agents with a
        small, loaded archive skip it and pay nothing."""
        index = self.indexes.get(agent_id)
        return index is None or index.size >= PREFETCH_MIN_PASSAGES

    async def warm(self, agent_id: str) -> None:
        """Load the agent's index now (a session starting), so its first search does not wait for it."""
        await self.prefetch(agent_id, "")

    async def prefetch(self, agent_id: str, utterance: str) -> None:
        """``_prefetch`` in a task of its own: the turn that asked may end first and cancel us, but the index
        load and the embedding it started are worth finishing (the next turn or search uses them)."""
        await asyncio.shield(self.indexes.spawn(self._prefetch(agent_id, utterance)))

    async def aclose(self) -> None:
        """Stop index loads and prefetches still running (server shutdown, before the store closes)."""
        await self.indexes.aclose()

    async def _prefetch(self, agent_id: str, utterance: str) -> None:
        """Embed the user's utterance (and load the agent's index) ahead of a possible search_memory call.

        Meant to run alongside the model's first tokens, so the query embedding (~3-8 ms with MiniLM; an agent
        holding passages in other languages also needs e5's, ~10-20 ms, ``recall/cross.py``) is off the tool's
        critical path; ``search`` then finds it in the query cache.
        """
        embedder = await self.embedder_for(agent_id)
        index = await self._index(agent_id, embedder)
        texts = [utterance.strip()]
        if embedder is not None and texts[0] and index.size >= PREFETCH_MIN_PASSAGES:
            jobs = [self._embed_queries(embedder, texts)]
            lane = self.indexes.cross
            if lane is not None and len(index.cross_rows):  # and the cross-lingual lane's (~2x MiniLM's time)
                jobs.append(self._cached(lane.model, lane.embed_queries, texts))
            await asyncio.gather(*jobs)

    async def _embed_queries(self, embedder: Embedder, queries: list[str]) -> np.ndarray:
        return await self._cached(embedder.model, embedder.embed, queries)

    async def _cached(self, model: str, embed: Callable[[list[str]], Awaitable[Any]], queries: list[str]
                      ) -> np.ndarray:
        """The queries' vectors of ``model``, embedding only those not in the query cache."""
        missing = list(dict.fromkeys(q for q in queries if (model, q) not in self._query_cache))
        if missing:
            for q, v in zip(missing, await embed(missing), strict=True):
                self._query_cache[(model, q)] = np.asarray(v, dtype=np.float32)
                if len(self._query_cache) > QUERY_CACHE_SIZE:
                    self._query_cache.popitem(last=False)
        for q in queries:
            self._query_cache.move_to_end((model, q))
        return np.stack([self._query_cache[(model, q)] for q in queries])

    # -- retrieval ----------------------------------------------------------------------------------------
    async def hybrid(
        self, agent_id: str, queries: Sequence[str], window: SearchWindow, *, limit: int,
        include_messages: bool = True, tz: str | None = None, now: float | None = None, fill: bool = False,
    ) -> list[Hit]:
        """The agent's best matches for ``queries`` (the first is the utterance) in ``window``; ``tz``, the agent's
        time zone, dates calendar days the query names ("on 3 October 2023") and the part of a day it names; a
        window with no topic is listed (``listing``). ``fill``: a window the user asked about, so its other lines
        follow the ranked ones, in order, to ``limit`` (``recall/listing.fill_window``)."""
        queries = list(dict.fromkeys(T.spoken_query(q) for q in queries if q.strip()))[:MAX_QUERIES]
        if not queries:
            return []
        if (listed := await self.listing(agent_id, queries, window, limit, include_messages, tz, now)):
            return listed[0]
        embedder = await self.embedder_for(agent_id)
        speaker = _query_speaker(queries[0])
        # the utterance in other words ("my other half's occupation" -> "my partner's job"): one more query
        extra = expand(queries[0])
        if include_messages:
            # The store's keyword search over evicted lines runs in SQLite's thread beside the embedding.
            ranked, messages = await asyncio.gather(
                self._rank_passages(agent_id, embedder, queries, window, limit, speaker, tz, extra),
                self._messages(agent_id, queries if extra is None else [*queries, extra.keywords], window))
        else:
            ranked, messages = (await self._rank_passages(agent_id, embedder, queries, window, limit, speaker, tz,
                                                          extra), [])
        index = self.indexes.get(agent_id)
        before = {r.passage_id: index.context_of(r.passage_id) for r in ranked} if index is not None else {}
        wanted = [r.passage_id for r in ranked] + [pid for r in ranked for pid in r.previous]
        wanted += [pid for pid in before.values() if pid is not None]
        passages = {p.id: p for p in await self._store.get_passages(agent_id, wanted)}

        def judge() -> list[Hit]:
            hits = [Hit(r.score, passage=passages[r.passage_id],
                        confidence=judged(r, passages[r.passage_id], queries[0], index,
                                          [passages[p] for p in r.previous if p in passages]),
                        previously=tuple(passages[p] for p in r.previous if p in passages),
                        context=passages.get(before.get(r.passage_id) or ""))
                    for r in ranked if r.passage_id in passages]
            if messages and index is not None:
                hits = merge_messages(hits, messages, index, queries, limit)
            return hits[:limit]

        # Judging reads the results' texts with the value patterns: long ones (a 20,000-character passage held the
        # event loop ~1 s) are judged in a thread.
        read = (sum(map(len, queries)) + sum(len(p.text) for p in passages.values())
                + sum(len(m.message.content or "") for m in messages))
        hits = await asyncio.to_thread(judge) if read > THREAD_JUDGE_CHARS else judge()
        if fill and index is not None:
            lines = (await self._message_index(agent_id))[0] if include_messages else None
            hits = await fill_window(self._store, agent_id, index, hits, window, limit, tz,
                                     asked=queries[0] if include_messages else None, lines=lines)
        return hits

    async def related(self, agent_id: str, texts: Sequence[str], *, per_text: int = 3, limit: int = 8,
                      query_embedder: Embedder | None = None) -> list[Passage]:
        """The agent's current passages closest to any of ``texts`` (the sleeptime agent's context for what the user
        said: ``recall/related.py``), at most ``limit``, best first; ``query_embedder`` embeds ``texts`` instead of the
        agent's in-process embedder when it is the same model."""
        texts = [t for t in dict.fromkeys(t.strip() for t in texts) if t]
        if not texts:
            return []
        embedder = await self.embedder_for(agent_id)
        index = await self._index(agent_id, embedder)
        return await related_passages(self._store, agent_id, index, texts, embedder, self.indexes.cross,
                                      per_text=per_text, limit=limit, query_embedder=query_embedder)

    async def window_in_words(self, agent_id: str, query: str, *, now: float, tz: str | None = None
                              ) -> SearchWindow | None:
        """The window a query names in words ("what did I say last tuesday?", ``recall/timewords.py``; days of the
        time zone ``tz``), when the query names no calendar date and the window holds any of the agent's passages:
        an imported history (or a day nothing was archived) is searched whole rather than answered with nothing."""
        window = window_for(query, now=now, tz=tz) or tenseless_window(query, now=now, tz=tz)
        if window is None or dated_ranges(query):
            return None
        index = await self._index(agent_id, await self.embedder_for(agent_id))
        return window if index.in_window(window, 1) else None

    async def listing(self, agent_id: str, queries: Sequence[str], window: SearchWindow, limit: int,
                      include_messages: bool, tz: str | None, now: float | None
                      ) -> tuple[list[Hit], int, tuple[str, SearchWindow] | None] | None:
        """A question about a time that names no topic ("what did I tell you yesterday?"): what was said then, in
        order, and how many lines the window holds, and the part of the day it names; None for any other question."""
        queries = [T.spoken_query(q) for q in queries if q.strip()]
        if (window.start_at is None and window.end_at is None) or not queries or not all(map(names_no_topic, queries)):
            return None
        now = time.time() if now is None else now
        part = part_of_day(queries[0], window, tz=tz, now=now)
        embedder = await self.embedder_for(agent_id)
        # "Anything on Saturday?": no tense, so what is planned for that day first, then what was said on it
        planned = await planned_for(self._store, agent_id, await self._index(agent_id, embedder), queries[0], window,
                                    limit // 2, now=now, tz=tz)
        hits, total = await self._list_window(agent_id, embedder, window, limit - len(planned),
                                              queries[0] if include_messages else None,
                                              None if part is None else part[1], tz)
        return [*planned, *hits], total + len(planned), part

    async def _list_window(self, agent_id: str, embedder: Embedder | None, window: SearchWindow, limit: int,
                           asked: str | None = None, part: SearchWindow | None = None, tz: str | None = None
                           ) -> tuple[list[Hit], int]:
        """What was said in ``window``, in order, and how many lines it holds (``recall/listing.list_window``); with
        the question ``asked`` (search_memory, not the REST search of passages) lines not archived too."""
        index = await self._index(agent_id, embedder)
        lines = None if asked is None else (await self._message_index(agent_id))[0]
        return await list_window(self._store, agent_id, index, window, limit, tz, part=part, asked=asked, lines=lines)

    async def _rank_passages(
        self, agent_id: str, embedder: Embedder | None, queries: list[str], window: SearchWindow, limit: int,
        speaker: str | None, tz: str | None = None, extra: Expansion | None = None,
    ) -> list[Ranked]:
        """``extra``: the utterance in other words (``recall/synonyms.py``), a last query that ranks passages but does
        not judge their confidence; its vector half embeds ``extra.dense``, its keyword half scores
        ``extra.keywords``."""
        index = await self._index(agent_id, embedder)
        if not index.size:
            return []
        dated = dated_ranges(queries[0], tz)
        dense, rank_only = queries, 0
        if not names_a_speaker(index, queries[0]):
            # and the names memory gives a relation the question says ("my mother" -> June, recall/relations.py)
            words = await relation_words(index, self._store, agent_id, queries[0])
            extra = with_words(said_in(index, extra, queries[0]), queries[0], words)
            if extra is not None:
                queries, dense, rank_only = [*queries, extra.keywords], [*queries, extra.dense], 1
        in_thread = (index.size * max(index.dim, 1) > THREAD_THRESHOLD_VALUES
                     or sum(map(len, queries)) > THREAD_QUERY_CHARS)
        vectors = cross = keyword = None
        if embedder is not None and index.has_vector.any():  # no comparable vector: no query embedding either
            lane = self.indexes.cross if len(index.cross_rows) else None  # only agents holding rows MiniLM can't read
            # BM25 needs no vector: a large index scores the queries' words in a thread while MiniLM embeds them (~8 ms;
            # BM25 ~2 ms at 100k rows; each question searched both ways, interleaved, load 11-13: -3.8 and -16.8 ms
            # paired p50). Not beside e5 (10k rows, 10 % lane: +7.7 ms; likely its OpenMP threads waiting at barriers
            # for one the scheduler put off). Not when the vectors are cached (a prefetch): nothing to wait for.
            ahead = in_thread and lane is None and any((embedder.model, q) not in self._query_cache for q in dense)
            vectors, cross, keyword = await asyncio.gather(
                self._embed_queries(embedder, dense),
                self._cached(lane.model, lane.embed_queries, dense) if lane is not None else _nothing(),
                asyncio.to_thread(index.keyword_half, queries) if ahead else _nothing())
        if in_thread:
            return await asyncio.to_thread(index.rank, vectors, queries, window, limit=limit, speaker=speaker,
                                           dated=dated, rank_only=rank_only, cross_vectors=cross, keyword=keyword)
        return index.rank(vectors, queries, window, limit=limit, speaker=speaker, dated=dated, rank_only=rank_only,
                          cross_vectors=cross, keyword=keyword)

    async def _messages(self, agent_id: str, queries: list[str], window: SearchWindow) -> list[MessageHit]:
        """The agent's out-of-context lines that best match the queries by keyword (``recall/messages.py``)."""
        index, long_tail = await self._message_index(agent_id)
        if long_tail:
            return await asyncio.to_thread(index.search, queries, window, limit=MESSAGE_CANDIDATES)
        return index.search(queries, window, limit=MESSAGE_CANDIDATES)

    async def _message_index(self, agent_id: str) -> tuple[MessageIndex, bool]:
        """The agent's out-of-context lines, after reading what left the context window since the last search (one
        indexed range query), and whether that was a long read (a first load: search it in a thread too)."""
        index = self._message_indexes.get(agent_id)
        if index is None:
            index = self._message_indexes[agent_id] = MessageIndex(agent_id)
            rows = sum(i.size for i in self._message_indexes.values())
            while rows > self.indexes.max_loaded_rows and len(self._message_indexes) > 1:
                _, dropped = self._message_indexes.popitem(last=False)
                rows -= dropped.size
        self._message_indexes.move_to_end(agent_id)
        tail = await self._store.load_message_tail(agent_id, after_seq=index.watermark,
                                                   seen_through=index.seen_through)
        if len(tail.ids) > MESSAGE_THREAD_ROWS:
            await asyncio.to_thread(index.update, tail)
            return index, True
        index.update(tail)
        return index, False

    async def search(
        self, agent_id: str, utterance: str, arguments: dict[str, Any], *, now: float | None = None,
        tz: str | None = None,
    ) -> str:
        """``search_memory``: the model's arguments and the user's words; days and dates in the agent's time zone
        ``tz`` (default UTC)."""
        now = time.time() if now is None else now
        # A time the user's own words name ("what did I tell you yesterday?") decides over the model's bounds: the
        # embedded model fills them with a guess ("12 to 8 minutes ago") that held none of yesterday's lines.
        named = window_for(utterance, now=now, tz=tz) or tenseless_window(utterance, now=now, tz=tz)
        window = named or window_from_minutes(
            arguments.get("start_minutes_ago"), arguments.get("end_minutes_ago"), now=now
        )
        found = await self._search_in(agent_id, utterance, arguments, window, tz=tz, now=now, fill=named is not None)
        if named is not None or (window.start_at is None and window.end_at is None) or found[1]:
            return found[0]
        # The model bounded a question whose words name no time ("What's my bike lock code?" searched "12 to 8
        # minutes ago"): a guess, or its reading of the conversation. Nothing confident inside it, so any time is
        # searched too and said to be outside the bounds, rather than telling the user there is no such memory.
        anywhere, confident = await self._search_in(agent_id, utterance, arguments, SearchWindow(None, None), tz=tz,
                                                    now=now)
        if not confident:
            return found[0]
        return f"Nothing from the time you searched matches; from any time:\n{anywhere}"

    async def _search_in(self, agent_id: str, utterance: str, arguments: dict[str, Any], window: SearchWindow, *,
                         tz: str | None, now: float, fill: bool = False) -> tuple[str, bool]:
        """``search`` within ``window``: the text for the model, and whether any line in it is a confident match
        (a window's listing is: it answers "what did I say then?"); ``fill``: the user named the window, so its
        other lines follow the ranked ones."""
        keywords = [k for k in (arguments.get("convo_keyword_queries") or [])
                    if isinstance(k, str) and k.strip() and k.strip().lower() not in SCHEMA_TYPE_WORDS]
        limit = WINDOW_LIST_LIMIT if window.start_at is not None or window.end_at is not None else self._limit
        spoken = list(dict.fromkeys(T.spoken_query(q) for q in [utterance, *keywords] if q.strip()))[:MAX_QUERIES]
        if (listed := await self.listing(agent_id, spoken, window, limit, True, tz, now)) is None:
            ranked = await self.hybrid(agent_id, spoken, window, limit=limit, tz=tz, now=now, fill=fill)
            return format_filled(ranked, now=now, tz=tz), any(h.confidence >= CONFIDENT for h in ranked)
        hits, total, part = listed
        text = format_part(hits, part, now=now, tz=tz) if part is not None and hits else format_hits(hits, now=now,
                                                                                                       tz=tz)
        note = listing_note(len(hits), total)
        return (text if note is None else f"{note}\n{text}"), bool(hits)


async def _nothing() -> None:
    """A job of ``asyncio.gather`` that has nothing to do."""


def _query_speaker(query: str) -> str | None:
    """The speaker a query is about: "user" for a first-person question ("what did I say…"), else None (named
    speakers are matched by ``PassageIndex`` against the labels it knows)."""
    words = T.words(query)
    if any(w in T.FIRST_PERSON for w in words):
        return "user"
    return None
