"""``Store.context_window``: the agent's in-context window as its next turn would begin with it, without reading a
message row when the store knows it at the count the database shows; read again once anyone changed it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.integration.store.helpers import make_agent, msg
from voice_letta import ids
from voice_letta.agent.models import TurnRecord
from voice_letta.agent.ports import HandoffRange
from voice_letta.errors import ConflictError
from voice_letta.store import SqliteStore


async def _trace_message_reads(store: Any) -> list[str]:
    """Every statement of ``store`` that reads message rows, from now on."""
    reads: list[str] = []
    if isinstance(store, SqliteStore):
        await store._db.set_trace_callback(lambda sql: reads.append(sql) if "FROM messages" in sql else None)
    else:
        fetch = store._fetch

        async def traced(action: str, sql: str, *args: object) -> list[Any]:
            if "FROM messages" in sql:
                reads.append(sql)
            return list(await fetch(action, sql, *args))

        store._fetch = traced
    return reads


async def _turn(store: Any, agent_id: str, k: int) -> None:
    t = TurnRecord(id=ids.turn_id(), agent_id=agent_id, fingerprint=f"fp-{k}")
    begun = await store.begin_turn(t, [msg(agent_id, "user", f"question {k}", turn_id=t.id)], holder="h",
                                   lease_s=10, now=time.time())
    assert begun is not None
    t.status, t.ended_at = "completed", time.time()
    await store.end_turn(agent_id, t, [msg(agent_id, "assistant", f"answer {k}", turn_id=t.id)], holder="h",
                         lease=begun.lease)


async def test_the_known_window_is_given_without_a_read_and_any_change_is_read_again(store: Any, other: Any) -> None:
    agent = await make_agent(store)
    assert await store.context_window(agent.id) == []  # no message yet, no lease row yet
    for k in range(3):
        await _turn(store, agent.id, k)
    reads = await _trace_message_reads(store)
    window = await store.context_window(agent.id)
    assert [m.content for m in window] == [f"{kind} {k}" for k in range(3) for kind in ("question", "answer")]
    assert window == await other.list_messages(agent.id, in_context=True)
    assert reads == []  # the window its last turn ended with, at the count the database shows: no row read

    async def same_as_stored() -> None:
        assert await store.context_window(agent.id) == await other.list_messages(agent.id, in_context=True)

    # another process changes the window: an edit (a cut-short reply), an eviction, an appended greeting
    await other.update_message(window[-1].id, content="answer 2, cut", interrupted=True)
    await same_as_stored()
    assert reads, "a window changed by another writer must be read again"
    await other.evict_messages(agent.id, through_seq=window[1].seq)
    await same_as_stored()
    await other.append_messages([msg(agent.id, "assistant", "hello from the framework")])
    await same_as_stored()
    # this process's own changes and turns keep it known (SQLite: the read above made it known; PostgreSQL: a turn)
    await _turn(store, agent.id, 3)
    before = len(reads)
    await same_as_stored()
    assert len(reads) == before
    assert [m.content for m in await store.context_window(agent.id)][-2:] == ["question 3", "answer 3"]


async def test_this_stores_own_eviction_and_hand_off_keep_the_window_known(store: Any, other: Any) -> None:
    """Memory upkeep evicts the oldest lines after a turn, alone or with a hand-off to the sleeptime agent: the
    window the store knew is still known without them (on PostgreSQL it was forgotten and read back every time)."""
    agent = await make_agent(store)
    for k in range(6):
        await _turn(store, agent.id, k)
    window = await store.context_window(agent.id)
    reads = await _trace_message_reads(store)
    assert await store.evict_messages(agent.id, through_seq=window[1].seq) == 2
    assert await store.context_window(agent.id) == await other.list_messages(agent.id, in_context=True)
    job = await store.enqueue_memory_job(agent.id, "eviction", HandoffRange(window[0].seq, window[3].seq),
                                         through_seq=window[3].seq, evict_through_seq=window[3].seq, now=time.time())
    assert job.through_seq == window[3].seq and job.status == "pending"
    after = await store.context_window(agent.id)
    assert after == await other.list_messages(agent.id, in_context=True) == list(window[4:])
    assert reads == []  # both windows came from what the store knew, not from a read
    # the same hand-off again conflicts and changes nothing
    with pytest.raises(ConflictError):
        await store.enqueue_memory_job(agent.id, "eviction", HandoffRange(window[2].seq, window[5].seq),
                                       through_seq=window[5].seq, evict_through_seq=window[5].seq, now=time.time())
    assert await other.list_messages(agent.id, in_context=True) == list(window[4:])
