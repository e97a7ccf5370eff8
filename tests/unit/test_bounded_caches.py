"""A server that runs for weeks with one agent per caller: per-agent state is bounded or freed after use."""

from __future__ import annotations

import asyncio
import gc

from voice_letta.agent.memory_search import MemorySearch
from voice_letta.agent.models import AgentState
from voice_letta.agent.ports import PassageTexts, PassageVectors
from voice_letta.agent.prompt import SystemPromptCache
from voice_letta.locks import KeyedLocks
from voice_letta.store.cache import CachingStore


async def test_keyed_locks_live_only_while_in_use() -> None:
    locks = KeyedLocks()
    entered = asyncio.Event()
    release = asyncio.Event()

    async def hold(key: str) -> None:
        async with locks(key):
            entered.set()
            await release.wait()

    task = asyncio.create_task(hold("agent-1"))
    await entered.wait()
    assert locks("agent-1").locked()  # the same lock while it is held
    release.set()
    await task
    for i in range(1000):
        async with locks(f"agent-{i}"):
            pass
    gc.collect()
    assert len(locks) == 0


def test_prompt_cache_keeps_the_most_recently_used_agents() -> None:
    cache = SystemPromptCache(max_entries=3)
    agents = [AgentState(id=f"agent-{i}", name=f"a{i}") for i in range(5)]
    for agent in agents[:3]:
        cache.get(agent)
    cache.get(agents[0])  # used again: stays
    for agent in agents[3:]:
        cache.get(agent)
    rebuilds = cache.rebuilds
    cache.get(agents[0])
    assert cache.rebuilds == rebuilds  # still cached
    cache.get(agents[1])
    assert cache.rebuilds == rebuilds + 1  # was dropped, compiled again


class _Passages:
    """Just enough of a Store for MemorySearch to load keyword-only indexes: every agent has `rows` passages."""

    def __init__(self, rows: int) -> None:
        self.rows = rows

    async def load_passage_texts(self, agent_id: str) -> PassageTexts:
        ids = tuple(f"{agent_id}-p{i}" for i in range(self.rows))
        zeros = tuple(0.0 for _ in ids)
        return PassageTexts(ids=ids, texts=tuple(f"line {i}" for i in ids), synopses=tuple("" for _ in ids),
                            start_at=zeros, end_at=zeros)

    async def load_passage_vectors(self, agent_id: str, model: str, dim: int) -> PassageVectors:
        return PassageVectors(ids=(), vectors=b"", dim=dim, start_at=(), end_at=(), other_models=0)


async def test_memory_indexes_are_bounded_by_rows_least_recently_searched_out() -> None:
    search = MemorySearch(_Passages(rows=100))  # type: ignore[arg-type]
    search.indexes.max_loaded_rows = 300
    for name in ("a", "b", "c"):
        await search._index(name, None)
    await search._index("a", None)  # searched again: the most recent
    await search._index("d", None)
    assert list(search.indexes.loaded) == ["c", "a", "d"]  # b, least recently searched, was dropped
    search.forget("a")
    assert "a" not in search.indexes.loaded and not search.indexes.generation  # nothing kept for a forgotten agent


async def test_agent_cache_keeps_the_most_recently_read_agents() -> None:
    reads: list[str] = []

    class Agents:
        async def get_agent(self, agent_id: str) -> AgentState:
            reads.append(agent_id)
            return AgentState(id=agent_id, name=agent_id)

    store = CachingStore(Agents(), max_agents=2)  # type: ignore[arg-type]
    for agent_id in ("a", "b", "a", "c", "a", "b"):
        await store.get_agent(agent_id)
    assert reads == ["a", "b", "c", "b"]  # a stayed (read again before c came); b was dropped for c
