"""Request idempotency keys (the store contract behind ``Idempotency-Key`` on the memory write routes), on SQLite
and PostgreSQL: one claim per key across processes, replay, mismatch, leases, expiry, per agent, cascade."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.integration.store.helpers import make_agent, msg
from voice_letta.agent.models import Message

TTL = 24 * 3600.0


async def claim(store: Any, agent_id: str, key: str, mark: str, now: float, *, lease_s: float = 600.0) -> Any:
    return await store.claim_request_key(agent_id, key, mark, now=now, ttl_s=TTL, lease_s=lease_s)


async def test_a_key_is_claimed_once_then_replays_its_first_response_from_any_process(store: Any, other: Any
                                                                                       ) -> None:
    agent = await make_agent(store)
    now = time.time()
    assert (await claim(store, agent.id, "k1", "fp", now)).outcome == "claimed"
    assert (await claim(other, agent.id, "k1", "fp", now + 1)).outcome == "running"
    assert (await claim(other, agent.id, "k1", "other", now + 1)).outcome == "mismatch"
    assert await store.finish_request_key(agent.id, "k1", "fp", status=201, body='{"id": "p-1"}') is True
    assert await store.finish_request_key(agent.id, "k1", "fp", status=500, body="{}") is False  # done once
    found = await claim(other, agent.id, "k1", "fp", now + 2)
    assert (found.outcome, found.status, found.body) == ("replay", 201, '{"id": "p-1"}')
    assert (await claim(other, agent.id, "k1", "other", now + 2)).outcome == "mismatch"


async def test_keys_are_per_agent_and_go_with_the_agent(store: Any) -> None:
    ada, bob = await make_agent(store), await make_agent(store, "bob")
    now = time.time()
    assert (await claim(store, ada.id, "same", "fp-a", now)).outcome == "claimed"
    assert (await claim(store, bob.id, "same", "fp-b", now)).outcome == "claimed"
    await store.delete_agent(ada.id)
    assert await store.purge_request_keys(before=now + 1) == 1  # only bob's is left to purge


async def test_a_failed_request_releases_its_key_and_a_dead_ones_claim_ends_with_its_lease(store: Any,
                                                                                            other: Any) -> None:
    agent = await make_agent(store)
    now = time.time()
    assert (await claim(store, agent.id, "k", "fp", now, lease_s=10)).outcome == "claimed"
    await store.release_request_key(agent.id, "k", "fp")
    assert (await claim(other, agent.id, "k", "fp", now + 1, lease_s=10)).outcome == "claimed"  # runs again
    # its process dies: the key is taken over once the lease ran out, and the dead run cannot finish it
    assert (await claim(store, agent.id, "k", "fp", now + 5, lease_s=10)).outcome == "running"
    assert (await claim(store, agent.id, "k", "fp", now + 12, lease_s=10)).outcome == "claimed"
    # a release of a finished key does nothing: the response stays
    assert await store.finish_request_key(agent.id, "k", "fp", status=202, body="{}") is True
    await store.release_request_key(agent.id, "k", "fp")
    assert (await claim(other, agent.id, "k", "fp", now + 13)).outcome == "replay"


async def test_a_key_expires_after_its_ttl_and_expired_keys_are_purged(store: Any) -> None:
    agent = await make_agent(store)
    now = time.time()
    await claim(store, agent.id, "old", "fp", now - TTL - 5)
    await store.finish_request_key(agent.id, "old", "fp", status=201, body="{}")
    await claim(store, agent.id, "new", "fp", now)
    assert (await claim(store, agent.id, "old", "other", now)).outcome == "claimed"  # expired: a new request
    await claim(store, agent.id, "older", "fp", now - TTL - 10)
    assert await store.purge_request_keys(before=now - TTL) == 1
    assert (await claim(store, agent.id, "new", "other", now + 1)).outcome == "mismatch"


async def test_concurrent_claims_of_one_key_from_two_processes_give_one_claim(store: Any, other: Any) -> None:
    agent = await make_agent(store)
    now = time.time()
    for round_ in range(5):
        found = await asyncio.gather(*(claim(s, agent.id, f"race-{round_}", "fp", now)
                                       for s in (store, other, store, other)))
        assert sorted(c.outcome for c in found) == ["claimed", "running", "running", "running"]


async def test_imported_at_finds_the_agents_imported_messages_at_those_times(store: Any) -> None:
    agent = await make_agent(store)
    t0 = 1_700_000_000.25
    rows: list[Message] = [msg(agent.id, "user", "hi", at=t0, kind="imported", in_context=False),
                           msg(agent.id, "assistant", "hello", at=t0 + 1, kind="imported", in_context=False),
                           msg(agent.id, "user", "live", at=t0)]
    await store.append_messages(rows)
    found = await store.imported_at(agent.id, [t0, t0 + 1, t0 + 2])
    assert [(m.role, m.content, m.created_at) for m in found] == [("user", "hi", t0), ("assistant", "hello", t0 + 1)]
    assert await store.imported_at(agent.id, []) == []
