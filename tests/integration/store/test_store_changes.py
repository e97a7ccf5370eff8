"""The change log: every write other processes must hear about adds a row, stamped with the writer's origin."""

from __future__ import annotations

import time

from tests.integration.store.helpers import make_agent
from voice_letta import ids
from voice_letta.agent.models import Passage
from voice_letta.agent.ports import NewBlock
from voice_letta.store import SqliteStore


def passage(agent_id: str, text: str) -> Passage:
    return Passage(id=ids.passage_id(), agent_id=agent_id, text=text, embedding=[0.1, 0.2], embedding_model="m")


async def test_agent_block_and_passage_writes_log_what_changed_and_who_changed_it(
    store: SqliteStore, other: SqliteStore,
) -> None:
    a = await make_agent(store, "a")
    b = await make_agent(store, "b", NewBlock("persona", "p"), a.blocks[1].id)  # shares a's "human" block
    start = await store.latest_change_id()
    await other.update_block(a.blocks[1].id, value="Name: Ada.")
    [p] = await other.insert_passages([passage(a.id, "bees")])
    await other.delete_passage(a.id, p.id)
    await store.update_agent(a.model_copy(update={"name": "renamed"}))
    changes = await store.changes_since(start)
    # the shared block: a row for each agent that links it
    assert {(c.agent_id, c.kind, c.origin) for c in changes[:2]} == {
        (a.id, "agent", "other-process"), (b.id, "agent", "other-process")}
    assert [(c.agent_id, c.kind, c.origin) for c in changes[2:]] == [
        (a.id, "passage_added", "other-process"), (a.id, "passages", "other-process"),
        (a.id, "agent", store.origin),
    ]
    assert changes[2].passage_id == p.id
    assert [c.id for c in changes] == sorted(c.id for c in changes)


async def test_a_bulk_delete_logs_one_row_and_memory_updated_round_trips(store: SqliteStore) -> None:
    agent = await make_agent(store)
    await store.insert_passages([passage(agent.id, f"line {i}") for i in range(50)])
    start = await store.latest_change_id()
    await store.delete_agent(agent.id)  # cascades to 50 passages
    kinds = [c.kind for c in await store.changes_since(start)]
    assert kinds.count("passages") == 1 and "agent" in kinds
    start = await store.latest_change_id()
    await store.record_memory_updated("agent-x", passages_added=3, passages_removed=1, reason="sleeptime",
                                      now=time.time())
    [change] = await store.changes_since(start)
    assert (change.kind, change.passages_added, change.passages_removed, change.reason, change.origin) == (
        "memory_updated", 3, 1, "sleeptime", store.origin)


async def test_old_rows_are_pruned(store: SqliteStore) -> None:
    now = time.time()
    await store.record_memory_updated("x", passages_added=0, passages_removed=0, reason="rest", now=now - 1000)
    await store.record_memory_updated("x", passages_added=0, passages_removed=0, reason="rest", now=now)
    assert await store.prune_changes(before=now - 600) == 1
    assert len(await store.changes_since(0)) == 1


async def test_postgresql_wakes_the_feed_for_other_processes_changes_only_and_once_per_burst(pg_databases) -> None:
    """NOTIFY carries the writer's origin (migration 0005): a process's own writes do not wake its change feed,
    and NOTIFYs that arrived together are one wake-up (one read of the log), not one each."""
    import asyncio

    from voice_letta.store import open_any_store

    url = await pg_databases.create()
    mine, theirs = await open_any_store(url, origin="me"), await open_any_store(url, origin="them")
    try:
        agent = await make_agent(mine)
        await mine.wait_for_changes(0.05)  # starts listening
        assert mine.signals_changes

        async def woken(timeout_s: float) -> bool:
            started = time.monotonic()
            await mine.wait_for_changes(timeout_s)
            return time.monotonic() - started < timeout_s * 0.8

        await mine.record_memory_updated(agent.id, passages_added=1, passages_removed=0, reason="x", now=time.time())
        assert not await woken(0.5)  # its own change
        for _ in range(5):
            await theirs.record_memory_updated(agent.id, passages_added=1, passages_removed=0, reason="y",
                                               now=time.time())
        await asyncio.sleep(1.0)  # all five NOTIFYs delivered
        assert await woken(30.0)
        assert not await woken(0.5)  # the burst woke it once
    finally:
        await mine.aclose()
        await theirs.aclose()


async def test_sqlite_reads_the_change_log_only_after_another_process_committed(tmp_path) -> None:
    """The SQLite feed looks at the WAL file (one stat) instead of querying the log every 0.1 s: this store's own
    commits do not count, another connection's (another process: its own write gate) do, once."""
    from voice_letta.store import open_any_store

    path = str(tmp_path / "voice.db")
    mine, theirs = await open_any_store(path, origin="me"), await open_any_store(path, origin="them")
    try:
        agent = await make_agent(mine)
        mine._gate.others_wrote()  # the feed's first look
        assert not mine._gate.others_wrote()
        await mine.record_memory_updated(agent.id, passages_added=1, passages_removed=0, reason="x", now=time.time())
        await mine.append_messages([])
        assert not mine._gate.others_wrote()  # its own commit
        await theirs.record_memory_updated(agent.id, passages_added=1, passages_removed=0, reason="y",
                                           now=time.time())
        await mine.record_memory_updated(agent.id, passages_added=1, passages_removed=0, reason="z", now=time.time())
        assert mine._gate.others_wrote()  # theirs, though this store committed after it
        assert not mine._gate.others_wrote()
        await theirs.record_memory_updated(agent.id, passages_added=1, passages_removed=0, reason="y",
                                           now=time.time())
        started = time.monotonic()
        await mine.wait_for_changes(0.01)
        assert time.monotonic() - started < 1.5  # woken by the check, not the 2 s full poll
        assert [c.origin for c in await mine.changes_since(0)][-4:] == ["me", "them", "me", "them"]
    finally:
        await mine.aclose()
        await theirs.aclose()
