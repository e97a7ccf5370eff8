"""Superseded passages (migration 0009 / PostgreSQL 0004): marked with the job's insert or by ``mark_superseded``,
only within one agent, never twice, seen by every process."""

from __future__ import annotations

from typing import Any

from tests.integration.store.helpers import make_agent
from voice_letta import ids
from voice_letta.agent.models import Passage
from voice_letta.agent.ports import HandoffRange


def _passage(agent_id: str, text: str, at: float) -> Passage:
    return Passage(id=ids.passage_id(), agent_id=agent_id, text=text, created_at=at, start_at=at, end_at=at)


async def test_a_job_passage_supersedes_earlier_ones_in_its_own_transaction(store: Any, other: Any) -> None:
    agent = await make_agent(store)
    stranger = await make_agent(store, "bo")
    boston = _passage(agent.id, "user: I live in Boston", 100.0)
    theirs = _passage(stranger.id, "user: I live in Oslo", 100.0)
    await store.insert_passages([boston])
    await store.insert_passages([theirs])
    start = await store.latest_change_id()
    seattle = _passage(agent.id, "user: I moved to Seattle", 200.0)
    job = await store.enqueue_memory_job(agent.id, "eviction", HandoffRange(older_from_seq=1, older_through_seq=1),
                                         through_seq=1, now=1.0)
    named = {"0-0": [boston.id, theirs.id, "passage-unknown"]}
    assert await store.insert_job_passages(job.id, [("0-0", seattle)], supersedes=named) == [seattle.id]
    [old, new] = await other.get_passages(agent.id, [boston.id, seattle.id])
    assert (old.superseded_by, old.superseded_at) == (seattle.id, 200.0)
    assert (new.superseded_by, new.superseded_at) == (None, None)
    [untouched] = await store.get_passages(stranger.id, [theirs.id])
    assert untouched.superseded_by is None  # another agent's passage is never marked
    texts = await other.load_passage_texts(agent.id)
    assert dict(zip(texts.ids, texts.superseded_by, strict=True)) == {boston.id: seattle.id, seattle.id: None}
    assert "passages" in [c.kind for c in await other.changes_since(start) if c.agent_id == agent.id]
    # A re-run of the job stores nothing and marks nothing again.
    again = _passage(agent.id, "user: I moved to Seattle", 300.0)
    assert await store.insert_job_passages(job.id, [("0-0", again)], supersedes={"0-0": [boston.id]}) == []
    [old] = await store.get_passages(agent.id, [boston.id])
    assert old.superseded_by == seattle.id


async def test_mark_superseded_keeps_the_first_successor_and_needs_a_passage_of_the_agent(store: Any) -> None:
    agent = await make_agent(store)
    stranger = await make_agent(store, "bo")
    a, b, c = (_passage(agent.id, f"user: fact {i}", 100.0 + i) for i in range(3))
    theirs = _passage(stranger.id, "user: not yours", 50.0)
    await store.insert_passages([a, b, c])
    await store.insert_passages([theirs])
    assert await store.mark_superseded(agent.id, [a.id, a.id, b.id], b.id, at=500.0) == [a.id]  # b is new_id itself
    assert await store.mark_superseded(agent.id, [a.id], c.id, at=600.0) == []  # already superseded
    assert await store.mark_superseded(agent.id, [b.id], theirs.id, at=600.0) == []  # successor of another agent
    assert await store.mark_superseded(stranger.id, [theirs.id], a.id, at=600.0) == []
    assert await store.mark_superseded(agent.id, [], c.id, at=600.0) == []
    listed = {p.id: (p.superseded_by, p.superseded_at) for p in await store.list_passages(agent.id)}
    assert listed == {a.id: (b.id, 500.0), b.id: (None, None), c.id: (None, None)}


async def test_deleting_a_successor_relinks_what_it_superseded(store: Any, other: Any) -> None:
    agent = await make_agent(store)
    a, b, c = (_passage(agent.id, f"user: fact {i}", 100.0 + i) for i in range(3))
    await store.insert_passages([a, b, c])
    assert await store.mark_superseded(agent.id, [a.id], b.id, at=500.0) == [a.id]
    assert await store.mark_superseded(agent.id, [b.id], c.id, at=600.0) == [b.id]
    await store.delete_passage(agent.id, b.id)  # a's successor is gone: c replaces a now (a keeps its time)
    listed = {p.id: (p.superseded_by, p.superseded_at) for p in await other.list_passages(agent.id)}
    assert listed == {a.id: (c.id, 500.0), c.id: (None, None)}
    await store.delete_passage(agent.id, c.id)  # the end of the chain: a is current again
    assert [(p.id, p.superseded_by, p.superseded_at) for p in await other.list_passages(agent.id)] == [
        (a.id, None, None)]


async def test_every_later_passage_change_is_logged_for_other_processes(store: Any, other: Any) -> None:
    """Found from outside: the change log skipped a 'passages' row whenever its newest row already said the same,
    also for a later transaction, so a process that had read that row never heard of the later change (two
    re-embeds in a row left another worker's index on the old vectors). One statement still logs one row."""
    agent = await make_agent(store)
    a, b, c, d = (_passage(agent.id, f"user: fact {i}", 100.0 + i) for i in range(4))
    await store.insert_passages([a, b, c, d])
    seen = await store.latest_change_id()
    assert await store.mark_superseded(agent.id, [a.id, b.id], c.id, at=500.0) == [a.id, b.id]  # two rows changed
    changes = [ch for ch in await other.changes_since(seen) if ch.agent_id == agent.id]
    assert [ch.kind for ch in changes] == ["passages"]  # one statement, one row
    seen = changes[-1].id  # what another process has read
    await store.delete_passage(agent.id, d.id)  # a later transaction, nothing logged in between
    assert [ch.kind for ch in await other.changes_since(seen) if ch.agent_id == agent.id] == ["passages"]


async def test_back_to_back_passage_changes_each_reach_a_process_that_read_in_between(store: Any, other: Any
                                                                                      ) -> None:
    """A later transaction within the same millisecond is still a later change: SQLite's log told writes apart
    by julianday('now') (1 ms), so a process that read the log between two quick changes missed the second (2 runs
    in 3 of the test above, before it waited 2 ms). Now every write transaction is its own (migration 0012)."""
    agent = await make_agent(store)
    passages = [_passage(agent.id, f"user: fact {i}", 100.0 + i) for i in range(41)]
    await store.insert_passages(passages)
    seen = await store.latest_change_id()
    for i in range(20):  # change, the other process reads, change again at once: each change must be logged
        await store.mark_superseded(agent.id, [passages[2 * i].id], passages[40].id, at=500.0 + i)
        logged = [ch for ch in await other.changes_since(seen) if ch.agent_id == agent.id]
        assert [ch.kind for ch in logged] == ["passages"], f"change {i} not logged after a read"
        seen = logged[-1].id
        await store.delete_passage(agent.id, passages[2 * i + 1].id)
        logged = [ch for ch in await other.changes_since(seen) if ch.agent_id == agent.id]
        assert [ch.kind for ch in logged] == ["passages"], f"deletion {i} folded into the change before it"
        seen = logged[-1].id


async def test_a_verbatim_passage_keeps_its_mark_through_every_read(store: Any, other: Any) -> None:
    """``Passage.verbatim`` (SQLite 0016 / PostgreSQL 0012): archived word for word by the server."""
    agent = await make_agent(store)
    plain = _passage(agent.id, "user: I keep bees", 100.0)
    said = _passage(agent.id, "user: my dentist is Dr Okafor", 200.0).model_copy(update={"verbatim": True})
    job = await store.enqueue_memory_job(agent.id, "import", HandoffRange(older_from_seq=1, older_through_seq=1),
                                         through_seq=1, now=1.0)
    assert await store.insert_job_passages(job.id, [("verbatim-0-0", said)]) == [said.id]
    await store.insert_passages([plain])
    got = {p.id: p.verbatim for p in await other.get_passages(agent.id, [plain.id, said.id])}
    assert got == {plain.id: False, said.id: True}
    assert {p.id: p.verbatim for p in await other.list_passages(agent.id, limit=10)} == got
