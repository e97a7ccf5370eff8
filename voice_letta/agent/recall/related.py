"""The passages a memory job reads beside a transcript (``MemorySearch.related``): what the sleeptime agent may
update or repeat. Each text's best few by fused score with no similarity floor, because an update shares little with
what it replaces ("I moved to Seattle" / "I live in Boston"); superseded passages are left out."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

import numpy as np

from voice_letta.agent.models import Passage
from voice_letta.agent.ports import CrossEmbedder, Embedder, Store
from voice_letta.agent.recall.index import PassageIndex
from voice_letta.agent.recall.loaded import THREAD_QUERY_CHARS, THREAD_THRESHOLD_VALUES
from voice_letta.agent.recall.vector import SearchWindow

__all__ = ["related_passages"]


async def related_passages(store: Store, agent_id: str, index: PassageIndex, texts: Sequence[str],
                           embedder: Embedder | None, lane: CrossEmbedder | None, *, per_text: int, limit: int,
                           query_embedder: Embedder | None = None) -> list[Passage]:
    """The agent's current (not superseded) passages closest to any of ``texts``: each text's best ``per_text`` by
    fused score with no similarity floor, at most ``limit`` in all, best first. ``query_embedder`` embeds ``texts``
    instead of ``embedder`` (the agent's in-process one) when it is the same model (the sleeptime agent's background
    process: a memory job is not the hot path). An agent holding passages MiniLM cannot read scores them by the texts'
    second vectors too (``lane``, the cross-lingual one, embedded in this process), as a search does."""
    if not index.size:
        return []
    vectors = None
    if embedder is not None and index.has_vector.any():
        source = embedder
        if query_embedder is not None and (query_embedder.model, query_embedder.dim) == (embedder.model, embedder.dim):
            source = query_embedder
        vectors = np.asarray(await source.embed(list(texts)), dtype=np.float32)
    cross = None
    if vectors is not None and lane is not None and len(index.cross_rows):
        # passages MiniLM cannot read are found by their second vector, as a search finds them (recall/cross.py):
        # "Mangsir 29 ma sarkiyo" is what "the wedding moved to the 29th" may update
        cross = await lane.embed_queries(list(texts))

    def rank() -> dict[str, float]:
        best: dict[str, float] = {}
        for j, text in enumerate(texts):
            qv = None if vectors is None else vectors[j:j + 1]
            for r in index.rank(qv, [text], SearchWindow(None, None), limit=per_text, min_cosine=-1.0,
                                cross_vectors=None if cross is None else cross[j:j + 1]):
                if index.successor[r.row] < 0 and r.score > best.get(r.passage_id, -math.inf):
                    best[r.passage_id] = r.score
        return best

    big = index.size * max(index.dim, 1) > THREAD_THRESHOLD_VALUES or sum(map(len, texts)) > THREAD_QUERY_CHARS
    best = await asyncio.to_thread(rank) if big else rank()
    return await store.get_passages(agent_id, sorted(best, key=lambda pid: -best[pid])[:limit])
