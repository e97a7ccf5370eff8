"""Memory jobs shared by several workers: leased claims, re-claims after a death, fencing, hand-off conflicts."""

from __future__ import annotations

import time

import pytest

from tests.integration.store.helpers import make_agent, msg
from voice_letta import ids
from voice_letta.agent.models import TurnRecord
from voice_letta.agent.ports import HandoffRange
from voice_letta.errors import ConflictError
from voice_letta.store import SqliteStore


async def enqueue(store: SqliteStore, agent_id: str, first: int, last: int, now: float) -> None:
    await store.enqueue_memory_job(agent_id, "eviction", HandoffRange(first, last), through_seq=last,
                                   evict_through_seq=last, now=now)


async def test_a_claimed_job_is_leased_and_claimed_again_only_when_its_lease_runs_out(
    store: SqliteStore, other: SqliteStore,
) -> None:
    agent = await make_agent(store)
    now = time.time()
    await enqueue(store, agent.id, 1, 4, now)
    first = await store.claim_memory_job(now=now, holder="w1", lease_s=10)
    assert first is not None and first.attempts == 1
    assert await other.claim_memory_job(now=now + 5, holder="w2", lease_s=10) is None
    again = await other.claim_memory_job(now=now + 11, holder="w2", lease_s=10)  # w1 died: its lease ran out
    assert again is not None and again.id == first.id and again.attempts == 2
    # w1 was only slow, not dead: it cannot finish (or fail) the run that w2 now owns
    assert await store.complete_memory_job(first.id, now=now + 12, attempt=first.attempts) is False
    await store.fail_memory_job(first.id, "late", retry_at=None, now=now + 12, attempt=first.attempts)
    assert (await store.list_memory_jobs(agent.id))[0].status == "running"
    assert await other.complete_memory_job(again.id, now=now + 13, attempt=again.attempts) is True
    assert (await store.list_memory_jobs(agent.id))[0].status == "done"


async def test_renewed_leases_keep_a_long_job_and_a_dead_worker_s_job_is_claimable_at_once(
    store: SqliteStore, other: SqliteStore,
) -> None:
    agent = await make_agent(store)
    now = time.time()
    await enqueue(store, agent.id, 1, 4, now)
    job = await store.claim_memory_job(now=now, holder="w1", lease_s=10)
    assert job is not None
    await store.renew_leases("w1", until=now + 100)
    assert await other.claim_memory_job(now=now + 50, holder="w2", lease_s=10) is None
    await other.release_holder("w1", now=now + 50)  # the supervisor reaped w1
    assert (await other.claim_memory_job(now=now + 50, holder="w2", lease_s=10)) is not None


async def test_requeue_at_start_leaves_a_live_worker_s_job_alone(store: SqliteStore, other: SqliteStore) -> None:
    a, b = await make_agent(store, "a"), await make_agent(store, "b")
    now = time.time()
    await enqueue(store, a.id, 1, 4, now)
    await enqueue(store, b.id, 1, 4, now)
    live = await store.claim_memory_job(now=now, holder="w1", lease_s=60)
    dead = await store.claim_memory_job(now=now, holder="gone", lease_s=1)
    assert live is not None and dead is not None
    assert await other.requeue_running_jobs(now=now + 5) == 1
    status = {j.agent_id: j.status for j in [*await store.list_memory_jobs(a.id), *await store.list_memory_jobs(b.id)]}
    assert status == {live.agent_id: "running", dead.agent_id: "pending"}


async def test_a_hand_off_another_process_enqueued_first_is_refused_and_evicts_nothing(
    store: SqliteStore, other: SqliteStore,
) -> None:
    agent = await make_agent(store)
    await store.append_messages([msg(agent.id, "user", f"line {i}") for i in range(8)])
    now = time.time()
    await enqueue(store, agent.id, 1, 4, now)
    with pytest.raises(ConflictError):
        await other.enqueue_memory_job(agent.id, "eviction", HandoffRange(3, 6), through_seq=6, evict_through_seq=6,
                                       now=now)
    assert [m.seq for m in await store.list_messages(agent.id, in_context=True)] == [5, 6, 7, 8]
    await other.enqueue_memory_job(agent.id, "eviction", HandoffRange(5, 6), through_seq=6, evict_through_seq=6,
                                   now=now)
    assert len(await store.list_memory_jobs(agent.id)) == 2


async def test_runs_cut_by_a_crash_or_a_shutdown_do_not_use_up_attempts(store: SqliteStore) -> None:
    agent = await make_agent(store)
    now = time.time()
    await enqueue(store, agent.id, 1, 4, now)
    first = await store.claim_memory_job(now=now, holder="w1", lease_s=10)
    assert first is not None and (first.attempts, first.crashes, first.failures) == (1, 0, 1)
    crashed = await store.claim_memory_job(now=now + 11, holder="w2", lease_s=10)  # w1 died mid-run
    assert crashed is not None and (crashed.attempts, crashed.crashes, crashed.failures) == (2, 1, 1)
    await store.release_memory_job(crashed.id, now=now + 12, attempt=crashed.attempts)  # shutdown hands it back
    job = (await store.list_memory_jobs(agent.id))[0]
    assert (job.status, job.crashes, job.error) == ("pending", 2, "interrupted by shutdown")
    again = await store.claim_memory_job(now=now + 13, holder="w3", lease_s=10)
    assert again is not None and (again.attempts, again.failures) == (3, 1)
    # a job left running by a dead process and re-queued at start is not a failure either
    assert await store.requeue_running_jobs(now=now + 30) == 1
    assert (await store.list_memory_jobs(agent.id))[0].failures == 0



async def served_by(store: SqliteStore, agent_id: str, holder: str, now: float, *, release: bool = True) -> None:
    """``holder`` ran a turn of the agent at ``now`` (its lease taken then, for 10 s)."""
    begun = await store.begin_turn(TurnRecord(id=ids.turn_id(), agent_id=agent_id), [], holder=holder, lease_s=10,
                                   now=now)
    assert begun is not None
    if release:
        await store.end_turn(agent_id, None, [], holder=holder, lease=begun.lease)


async def test_a_job_is_left_to_the_worker_serving_its_agent(store: SqliteStore, other: SqliteStore) -> None:
    served, idle, fresh = [await make_agent(store, n) for n in ("served", "idle", "fresh")]
    now = time.time()
    await served_by(store, served.id, "w1", now)
    await served_by(store, idle.id, "w1", now - 60, release=False)  # a minute ago: w1 is gone or done with it
    for agent in (served, idle, fresh):
        await enqueue(store, agent.id, 1, 4, now)
    claimed = [await other.claim_memory_job(now=now, holder="w2", lease_s=10, affinity_s=5) for _ in range(3)]
    assert claimed[2] is None
    assert sorted(j.agent_id for j in claimed[:2] if j is not None) == sorted([idle.id, fresh.id])
    mine = await store.claim_memory_job(now=now, holder="w1", lease_s=10, affinity_s=5)
    assert mine is not None and mine.agent_id == served.id


async def test_another_worker_takes_a_served_agent_s_job_after_affinity_s_or_once_its_worker_was_reaped(
    store: SqliteStore, other: SqliteStore,
) -> None:
    slow, reaped = await make_agent(store, "slow"), await make_agent(store, "reaped")
    now = time.time()
    for agent in (slow, reaped):
        await served_by(store, agent.id, "w1", now)
        await enqueue(store, agent.id, 1, 4, now)
    assert await other.claim_memory_job(now=now + 4, holder="w2", lease_s=10, affinity_s=5) is None
    late = await other.claim_memory_job(now=now + 6, holder="w2", lease_s=10, affinity_s=5)
    assert late is not None and late.agent_id == slow.id  # the oldest job that waited long enough
    assert await other.claim_memory_job(now=now + 1, holder="w2", lease_s=10, affinity_s=5) is None
    await other.release_holder("w1", now=now + 1)
    taken = await other.claim_memory_job(now=now + 1, holder="w2", lease_s=10, affinity_s=5)
    assert taken is not None and taken.agent_id == reaped.id
