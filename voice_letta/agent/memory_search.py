"""The built-in ``search_memory`` tool: hybrid retrieval over archival passages and out-of-context messages.

Queries: the user's utterance plus the model's keyword queries. Each query is run three ways:
- vector similarity over the agent's passages (an in-memory float32 matrix per agent, loaded once from the
  store and appended to as passages are written; cosine = dot product of normalized vectors);
- FTS5 BM25 over passages (synopsis and original lines);
- FTS5 BM25 over user/assistant messages that are out of context (evicted; already-visible messages are
  excluded). Evicted lines stay searchable here until, and after, the sleeptime agent archives them.
The ranked lists are fused with reciprocal rank fusion (score = Σ 1 / (60 + rank)). The time window applies
to when things were *said*: a passage matches when its [start_at, end_at] overlaps the window, a message
when its created_at is inside it. Results are compact, speakable and dated.

Embedding models: a passage embedded by another model (or dimension) than the agent's current embedder is
left out of vector scoring (its vector is not comparable) but is still found by BM25; the count is logged
and returned by ``hybrid_passages``. Re-embedding such passages is an explicit operation, not done on the
search path.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from voice_letta.agent.models import EmbeddingConfig, Passage
from voice_letta.agent.ports import Embedder, EmbedderFactory, MessageHit, PassageHit, Store

log = logging.getLogger(__name__)

MAX_SNIPPET_CHARS = 240
RRF_K = 60
CANDIDATES = 20  # per ranked list
MIN_COSINE = 0.25  # below this a vector "hit" is noise (all-MiniLM-L6-v2 scale)
MAX_QUERIES = 4
THREAD_THRESHOLD_VALUES = 2_000_000  # rows * dim above which the dot product runs in a thread (> ~2 ms)
QUERY_CACHE_SIZE = 256
COARSE_MIN_ROWS = 50_000  # from this many rows a vector search ranks sign bits first (``VectorIndex``)
COARSE_CANDIDATES = 2000  # rows re-scored exactly after the sign-bit ranking (100x the 20 candidates kept)


@dataclass(frozen=True, slots=True)
class SearchWindow:
    start_at: float | None
    end_at: float | None


def window_from_minutes(
    start_minutes_ago: int | None, end_minutes_ago: int | None, *, now: float
) -> SearchWindow:
    """``start_minutes_ago`` is the newer bound and ``end_minutes_ago`` the older; reversed bounds are swapped."""
    newer = None if start_minutes_ago is None else now - 60.0 * max(0, start_minutes_ago)
    older = None if end_minutes_ago is None else now - 60.0 * max(0, end_minutes_ago)
    if newer is not None and older is not None and older > newer:
        newer, older = older, newer
    return SearchWindow(start_at=older, end_at=newer)


def when(ts: float, now: float) -> str:
    """Speakable relative date: 'earlier today', 'yesterday', '3 days ago (Monday, November 23)'."""
    then = datetime.fromtimestamp(ts, tz=UTC)
    days = (datetime.fromtimestamp(now, tz=UTC).date() - then.date()).days
    minutes = int((now - ts) // 60)
    if days <= 0:
        if minutes < 2:
            return "just now"
        if minutes < 60:
            return f"{minutes} minutes ago"
        return "earlier today"
    if days == 1:
        return "yesterday"
    date = then.strftime("%A, %B %-d")
    if days < 7:
        return f"{days} days ago ({date})"
    return f"on {date}, {then.year}"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_SNIPPET_CHARS else text[: MAX_SNIPPET_CHARS - 1].rstrip() + "…"


# --- the per-agent vector index ---------------------------------------------------------------------------


def sign_words(vectors: np.ndarray) -> np.ndarray:
    """One bit per dimension (is it positive?), packed into uint64 words: shape (rows, ceil(dim / 64))."""
    packed = np.packbits(np.asarray(vectors) > 0, axis=1)
    pad = (-packed.shape[1]) % 8
    if pad:
        packed = np.pad(packed, ((0, 0), (0, pad)))
    words: np.ndarray = np.ascontiguousarray(packed).view(np.uint64)
    return words


@dataclass
class VectorIndex:
    """Normalized float32 rows of one agent and one embedding model; appended to in place.

    Up to ``coarse_min_rows`` rows a search is an exact scan of the float32 matrix. Past that the scan is bound
    by memory bandwidth (154 MB at 100k MiniLM rows: ~8 ms on two cores), so a search first ranks every row by
    the Hamming distance between sign bits (48 bytes a row at 384-d, ~1 ms for 100k), keeps the
    COARSE_CANDIDATES nearest, and re-scores those exactly: 2.0 ms instead of 7.2 on one core. Measured on 100k
    real MiniLM embeddings (bench/vector_recall.py), the top 5 are the exact scan's top 5 for held-out and
    paraphrased queries (agreement 1.000; 0.997 for noisy copies of indexed vectors).
    """

    model: str
    dim: int
    ids: list[str] = field(default_factory=list)
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    start_at: np.ndarray = field(default_factory=lambda: np.zeros(0))
    end_at: np.ndarray = field(default_factory=lambda: np.zeros(0))
    other_models: int = 0
    coarse_min_rows: int = COARSE_MIN_ROWS
    bits: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.uint64))  # (words, capacity)
    # Appends may run in threads (large indexes); searches read ``size`` rows, which are written before ``ids``.
    _append_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.matrix.shape[1] != self.dim:
            self.matrix = np.zeros((0, self.dim), dtype=np.float32)
        self.bits = np.zeros(((self.dim + 63) // 64, 0), dtype=np.uint64)

    @property
    def size(self) -> int:
        return len(self.ids)

    def add(self, ids: Sequence[str], vectors: np.ndarray, start_at: Sequence[float], end_at: Sequence[float]) -> None:
        if not ids:
            return
        with self._append_lock:
            self._add(ids, vectors, start_at, end_at)

    def _add(self, ids: Sequence[str], vectors: np.ndarray, start_at: Sequence[float], end_at: Sequence[float]) -> None:
        n = self.size
        need = n + len(ids)
        if self.matrix.shape[0] < need:  # grow geometrically so appends stay amortized O(1)
            cap = max(need, 2 * self.matrix.shape[0], 64)
            grown = np.zeros((cap, self.dim), dtype=np.float32)
            grown[:n] = self.matrix[:n]
            self.matrix = grown
            bits = np.zeros((self.bits.shape[0], cap), dtype=np.uint64)
            bits[:, :n] = self.bits[:, :n]
            self.bits = bits
            self.start_at = np.concatenate([self.start_at[:n], np.zeros(cap - n)])
            self.end_at = np.concatenate([self.end_at[:n], np.zeros(cap - n)])
        self.matrix[n:need] = vectors
        self.bits[:, n:need] = sign_words(self.matrix[n:need]).T
        self.start_at[n:need] = start_at
        self.end_at[n:need] = end_at
        self.ids.extend(ids)

    def search(self, queries: np.ndarray, window: SearchWindow, k: int) -> list[list[tuple[str, float]]]:
        """Top ``k`` (id, cosine) per query row, best first, inside the window and above MIN_COSINE."""
        n = self.size
        if n == 0:
            return [[] for _ in range(len(queries))]
        mask: np.ndarray | None = None
        if window.start_at is not None or window.end_at is not None:
            mask = np.ones(n, dtype=bool)
            if window.start_at is not None:
                mask &= self.end_at[:n] >= window.start_at
            if window.end_at is not None:
                mask &= self.start_at[:n] <= window.end_at
        if n >= self.coarse_min_rows:
            return [self._coarse_top(q, mask, k) for q in np.asarray(queries, dtype=np.float32)]
        scores = _scan(self.matrix[:n], queries)  # (n, q)
        if mask is not None:
            scores = np.where(mask[:, None], scores, np.float32(-1.0))
        out: list[list[tuple[str, float]]] = []
        for j in range(scores.shape[1]):
            col = scores[:, j]
            top = np.argpartition(-col, min(k, n - 1))[:k] if n > k else np.arange(n)
            top = top[np.argsort(-col[top])]
            out.append([(self.ids[i], float(col[i])) for i in top if col[i] >= MIN_COSINE])
        return out

    def _coarse_top(self, query: np.ndarray, mask: np.ndarray | None, k: int) -> list[tuple[str, float]]:
        n = self.size
        words = sign_words(query[None, :])[0]
        distance = np.bitwise_count(self.bits[0, :n] ^ words[0]).astype(np.uint16)
        for w in range(1, len(words)):  # word by word: contiguous rows, no (n, words) temporary to reduce
            distance += np.bitwise_count(self.bits[w, :n] ^ words[w])
        if mask is not None:
            distance[~mask] = np.iinfo(np.uint16).max
        # The nearest COARSE_CANDIDATES without sorting n values: distances are small integers, so their
        # histogram gives the cut-off distance directly.
        want = min(COARSE_CANDIDATES, n)
        cutoff = int(np.searchsorted(np.cumsum(np.bincount(distance)), want))
        below = np.flatnonzero(distance < cutoff)
        at = np.flatnonzero(distance == cutoff)[: want - len(below)]
        candidates = np.concatenate([below, at])
        if mask is not None:
            candidates = candidates[mask[candidates]]
        scores = self.matrix[candidates] @ query
        best = np.argsort(-scores)[:k]
        return [(self.ids[candidates[i]], float(scores[i])) for i in best if scores[i] >= MIN_COSINE]


# A scan of a large matrix is bound by one core's memory bandwidth; two threads (numpy releases the GIL in
# BLAS) halve it: 100k x 384 took 16.5 ms on one thread and 8.6 ms on two on the 2-core dev machine.
_SCAN_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voice-letta-scan")
SPLIT_SCAN_ROWS = 40_000
PREFETCH_MIN_PASSAGES = 1_000


def _scan(matrix: np.ndarray, queries: np.ndarray) -> np.ndarray:
    n = matrix.shape[0]
    if n < SPLIT_SCAN_ROWS:
        out: np.ndarray = matrix @ queries.T
        return out
    half = n // 2
    first = _SCAN_POOL.submit(np.matmul, matrix[:half], queries.T)
    second = matrix[half:] @ queries.T
    return np.concatenate([first.result(), second])


class _SingleEmbedder:
    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def for_config(self, config: Any) -> Embedder:
        return self.embedder


# --- search -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hit:
    """One fused result: a passage or a message, with its RRF score."""

    score: float
    passage: Passage | None = None
    message: MessageHit | None = None

    @property
    def said_at(self) -> float:
        if self.passage is not None:
            return self.passage.start_at or self.passage.created_at
        assert self.message is not None
        return self.message.message.created_at


class MemorySearch:
    """search_memory and archival search for every agent of the process. The embedder is optional."""

    def __init__(
        self, store: Store, embedder: Embedder | EmbedderFactory | None = None, *, limit: int = 5
    ) -> None:
        self._store = store
        self._embedders: EmbedderFactory | None
        if embedder is None or hasattr(embedder, "for_config"):
            self._embedders = embedder  # type: ignore[assignment]
        else:
            self._embedders = _SingleEmbedder(embedder)
        self._limit = limit
        self._indexes: dict[str, VectorIndex] = {}
        self._loading: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._loads: dict[str, asyncio.Task[VectorIndex]] = {}
        self._generation: defaultdict[str, int] = defaultdict(int)
        self._background: set[asyncio.Task[None]] = set()
        self._query_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()

    # -- index maintenance (called by the memory manager and the REST layer) ------------------------------
    async def index_passages(self, agent_id: str, passages: Sequence[Passage]) -> None:
        """Append new passages to a loaded index (an index not loaded yet will read them from the store)."""
        index = self._indexes.get(agent_id)
        if index is None:
            return
        rows = [p for p in passages if p.embedding is not None and p.embedding_model == index.model
                and len(p.embedding) == index.dim]
        index.other_models += len(passages) - len(rows)
        if not rows:
            return
        args = ([p.id for p in rows], np.asarray([p.embedding for p in rows], dtype=np.float32),
                [_start(p) for p in rows], [_end(p) for p in rows])
        if index.size * index.dim > THREAD_THRESHOLD_VALUES:  # a large index may have to grow: a big copy
            await asyncio.to_thread(index.add, *args)
        else:
            index.add(*args)

    def keyword_only(self, agent_id: str) -> int:
        """Passages of a loaded index embedded with another model (found by BM25 only)."""
        index = self._indexes.get(agent_id)
        return 0 if index is None else index.other_models

    def forget(self, agent_id: str) -> None:
        """Drop an agent's index (passages deleted or re-embedded); the next search reloads it. A load already
        reading the old rows still answers its callers but is not kept."""
        self._indexes.pop(agent_id, None)
        self._generation[agent_id] += 1

    async def embedder_for(self, agent_id: str) -> Embedder | None:
        if self._embedders is None:
            return None
        agent = await self._store.get_agent(agent_id)
        return self._embedders.for_config(agent.embedding)

    def embedder_for_config(self, config: EmbeddingConfig) -> Embedder | None:
        """The embedder an agent with ``config`` would get (raises ConfigError for one this server cannot run)."""
        return None if self._embedders is None else self._embedders.for_config(config)

    async def _index(self, agent_id: str, embedder: Embedder) -> VectorIndex:
        index = self._indexes.get(agent_id)
        if index is not None and index.model == embedder.model and index.dim == embedder.dim:
            return index
        # One load per agent, in a task of its own: a caller that gives up (a turn that ended without searching
        # cancels its prefetch) must not throw away a load that takes ~1 s at 100k passages.
        task = self._loads.get(agent_id)
        if task is None:
            task = self._loads[agent_id] = asyncio.create_task(self._load(agent_id, embedder))
            task.add_done_callback(lambda t: self._load_done(agent_id, t))
        index = await asyncio.shield(task)
        if index.model != embedder.model or index.dim != embedder.dim:  # a load for the agent's previous model
            return await self._index(agent_id, embedder)
        return index

    def _load_done(self, agent_id: str, task: asyncio.Task[VectorIndex]) -> None:
        if self._loads.get(agent_id) is task:
            del self._loads[agent_id]
        if not task.cancelled() and task.exception() is not None:  # retrieved here; awaiters see it too
            log.warning("loading the memory index of agent %s failed: %s", agent_id, task.exception())

    async def _load(self, agent_id: str, embedder: Embedder) -> VectorIndex:
        async with self._loading[agent_id]:
            index = self._indexes.get(agent_id)
            if index is not None and index.model == embedder.model and index.dim == embedder.dim:
                return index
            generation = self._generation[agent_id]
            loaded = await self._store.load_passage_vectors(agent_id, embedder.model, embedder.dim)

            def build() -> VectorIndex:  # ~0.4 s at 100k rows (copy + sign bits): off the event loop
                index = VectorIndex(embedder.model, embedder.dim, other_models=loaded.other_models)
                if loaded.ids:
                    matrix = np.frombuffer(loaded.vectors, dtype="<f4").reshape(len(loaded.ids), loaded.dim)
                    index.add(list(loaded.ids), matrix, loaded.start_at, loaded.end_at)
                return index

            index = await asyncio.to_thread(build)
            if index.other_models:
                log.warning("agent %s: %d passages were embedded with another model than %s; they are found by "
                            "keyword only", agent_id, index.other_models, embedder.model)
            if self._generation[agent_id] == generation:  # not forgotten (passages changed) while we read
                self._indexes[agent_id] = index
            return index

    def wants_prefetch(self, agent_id: str) -> bool:
        """Worth a head start: the agent's index is not loaded yet (loading 100k passages takes ~1 s), or its
        archive is large enough that embedding the utterance ahead of a search pays. Turns of agents with a
        small, loaded archive skip it and pay nothing."""
        index = self._indexes.get(agent_id)
        return index is None or index.size >= PREFETCH_MIN_PASSAGES

    async def warm(self, agent_id: str) -> None:
        """Load the agent's vector index now (a session starting), so its first search does not wait for it."""
        await self.prefetch(agent_id, "")

    async def prefetch(self, agent_id: str, utterance: str) -> None:
        """``_prefetch`` in a task of its own: the turn that asked may end first and cancel us, but the index
        load and the embedding it started are worth finishing (the next turn or search uses them)."""
        task = asyncio.create_task(self._prefetch(agent_id, utterance))
        self._background.add(task)
        task.add_done_callback(self._background_done)
        await asyncio.shield(task)

    async def aclose(self) -> None:
        """Stop index loads and prefetches still running (server shutdown, before the store closes)."""
        tasks: list[asyncio.Task[Any]] = [*self._background, *self._loads.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("memory prefetch failed: %s", task.exception())

    async def _prefetch(self, agent_id: str, utterance: str) -> None:
        """Embed the user's utterance (and load the agent's index) ahead of a possible search_memory call.

        Meant to run alongside the model's first tokens, so the query embedding (~3-8 ms with MiniLM) is off
        the tool's critical path; ``search`` then finds it in the query cache.
        """
        embedder = await self.embedder_for(agent_id)
        if embedder is None:
            return
        index = await self._index(agent_id, embedder)
        if utterance.strip() and index.size >= PREFETCH_MIN_PASSAGES:
            await self._embed_queries(embedder, [utterance.strip()])

    async def _embed_queries(self, embedder: Embedder, queries: list[str]) -> np.ndarray:
        missing = [q for q in queries if (embedder.model, q) not in self._query_cache]
        if missing:
            for q, v in zip(missing, await embedder.embed(missing), strict=True):
                self._query_cache[(embedder.model, q)] = np.asarray(v, dtype=np.float32)
                if len(self._query_cache) > QUERY_CACHE_SIZE:
                    self._query_cache.popitem(last=False)
        for q in queries:
            self._query_cache.move_to_end((embedder.model, q))
        return np.stack([self._query_cache[(embedder.model, q)] for q in queries])

    # -- retrieval ----------------------------------------------------------------------------------------
    async def hybrid(
        self, agent_id: str, queries: Sequence[str], window: SearchWindow, *, limit: int,
        include_messages: bool = True,
    ) -> list[Hit]:
        queries = list(dict.fromkeys(q.strip() for q in queries if q.strip()))[:MAX_QUERIES]
        if not queries:
            return []
        messages: dict[str, MessageHit] = {}
        passages: dict[str, Passage] = {}
        embedder = await self.embedder_for(agent_id)
        # Side by side: the query embedding (onnxruntime) and SQLite's FTS both run in threads that release the GIL.
        vector, keyword = await asyncio.gather(
            self._vector_rankings(agent_id, embedder, queries, window),  # lists of ("p"|"m", id)
            self._keyword_rankings(agent_id, queries, window, include_messages, messages),
        )
        ranked = vector + keyword
        fused: dict[tuple[str, str], float] = defaultdict(float)
        for ranking in ranked:
            for rank, key in enumerate(ranking):
                fused[key] += 1.0 / (RRF_K + rank + 1)
        order = sorted(fused, key=lambda k: -fused[k])
        need = [pid for kind, pid in order[: limit * 2] if kind == "p" and pid not in passages]
        for p in await self._store.get_passages(agent_id, need):
            passages[p.id] = p
        hits: list[Hit] = []
        chosen_text: list[str] = []
        for kind, key_id in order:
            if len(hits) >= limit:
                break
            if kind == "p" and key_id in passages:
                hits.append(Hit(fused[(kind, key_id)], passage=passages[key_id]))
                chosen_text.append(passages[key_id].text)
            elif kind == "m" and key_id in messages:
                words = " ".join((messages[key_id].message.content or "").split())
                if words and any(words in " ".join(t.split()) for t in chosen_text):
                    continue  # already inside an archived passage we return
                hits.append(Hit(fused[(kind, key_id)], message=messages[key_id]))
        return hits

    async def _vector_rankings(
        self, agent_id: str, embedder: Embedder | None, queries: list[str], window: SearchWindow
    ) -> list[list[tuple[str, str]]]:
        if embedder is None:
            return []
        index = await self._index(agent_id, embedder)
        if not index.size:
            return []
        vectors = await self._embed_queries(embedder, queries)
        if index.size * index.dim > THREAD_THRESHOLD_VALUES:
            per_query = await asyncio.to_thread(index.search, vectors, window, CANDIDATES)
        else:
            per_query = index.search(vectors, window, CANDIDATES)
        return [[("p", pid) for pid, _ in hits] for hits in per_query]

    async def _keyword_rankings(
        self, agent_id: str, queries: list[str], window: SearchWindow, include_messages: bool,
        messages: dict[str, MessageHit],
    ) -> list[list[tuple[str, str]]]:
        ranked: list[list[tuple[str, str]]] = []
        for query in queries:
            pids = await self._store.search_passage_ids(
                agent_id, query, start_at=window.start_at, end_at=window.end_at, limit=CANDIDATES)
            ranked.append([("p", pid) for pid, _ in pids])
            if include_messages:
                mhits = await self._store.search_messages(
                    agent_id, query, start_at=window.start_at, end_at=window.end_at, limit=CANDIDATES)
                for mh in mhits:
                    messages[mh.message.id] = mh
                ranked.append([("m", mh.message.id) for mh in mhits])
        return ranked

    async def search(
        self, agent_id: str, utterance: str, arguments: dict[str, Any], *, now: float | None = None
    ) -> str:
        now = time.time() if now is None else now
        window = window_from_minutes(
            arguments.get("start_minutes_ago"), arguments.get("end_minutes_ago"), now=now
        )
        keywords = [k for k in (arguments.get("convo_keyword_queries") or []) if isinstance(k, str) and k.strip()]
        hits = await self.hybrid(agent_id, [utterance, *keywords], window, limit=self._limit)
        return format_hits(hits, now=now)


def format_hits(hits: Sequence[Hit], *, now: float) -> str:
    if not hits:
        return "No memories matched. Tell the user you don't remember that, and ask them to remind you."
    lines: list[str] = []
    for h in hits:
        said = when(h.said_at, now)
        if h.passage is not None:
            lines.append(f"- {_sentence_case(said)}: {_clip(h.passage.synopsis or h.passage.text)}")
        elif h.message is not None:
            who = "the user said" if h.message.message.role == "user" else "you said"
            lines.append(f"- {_sentence_case(said)}, {who}: {_clip(h.message.message.content or '')}")
    return "\n".join(lines)


def _sentence_case(text: str) -> str:
    """Upper-case the first letter only ("on Thursday, October 22": ``str.capitalize`` lower-cases the rest)."""
    return text[:1].upper() + text[1:]


def format_results(passages: list[PassageHit], messages: list[MessageHit], *, now: float) -> str:
    """Formats separate passage and message hits (kept for callers of the earlier keyword-only search)."""
    hits = [Hit(p.score, passage=p.passage) for p in passages] + [Hit(m.score, message=m) for m in messages]
    return format_hits(hits, now=now)


def _start(p: Passage) -> float:
    return p.start_at if p.start_at is not None else p.end_at if p.end_at is not None else p.created_at


def _end(p: Passage) -> float:
    return p.end_at if p.end_at is not None else p.start_at if p.start_at is not None else p.created_at
