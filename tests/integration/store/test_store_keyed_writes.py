"""Writes that are one with their request key or their dedup, on SQLite and PostgreSQL (store contract):
``write_passages`` stores passages, their supersession marks and the key's first response in one transaction (a
claim taken over by another request rolls the write back), and ``append_imports`` skips what an earlier import
stored inside the insert's own transaction, so overlapping imports from two processes at once store it once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.integration.store.helpers import make_agent, msg
from voice_letta import ids
from voice_letta.agent.models import Message, Passage
from voice_letta.agent.ports import HeldKey, KeyClaimLost, KeyedPassages

TTL = 24 * 3600.0


def passage(agent_id: str, text: str, at: float) -> Passage:
    return Passage(id=ids.passage_id(), agent_id=agent_id, text=text, start_at=at, end_at=at, created_at=at)


def answer(stored: list[Passage], marked: list[list[str]]) -> tuple[int, str]:
    return 201, "|".join(f"{p.id}:{','.join(m)}" for p, m in zip(stored, marked, strict=True))


async def test_passages_their_supersession_and_the_keys_response_are_stored_together(store: Any, other: Any
                                                                                       ) -> None:
    agent = await make_agent(store)
    now = time.time()
    [old] = await store.insert_passages([passage(agent.id, "Ines lives in Porto.", now - 10)])
    claim = await store.claim_request_key(agent.id, "k", "fp", now=now, ttl_s=TTL, lease_s=600)
    new = passage(agent.id, "Ines moved to Lisbon.", now)
    held = HeldKey(agent.id, "k", "fp", claim.created_at)
    stored, marked = await store.write_passages([new], [[old.id, "passage-unknown"]], keyed=KeyedPassages(held, answer))
    assert [p.id for p in stored] == [new.id] and marked == [[old.id]]
    found = await other.claim_request_key(agent.id, "k", "fp", now=now + 1, ttl_s=TTL, lease_s=600)
    assert (found.outcome, found.status, found.body) == ("replay", 201, f"{new.id}:{old.id}")
    [again] = await other.get_passages(agent.id, [old.id])
    assert again.superseded_by == new.id
    # without a key: the same transaction without the response
    stored, marked = await store.write_passages([passage(agent.id, f"fact {i}", now) for i in range(3)], [[]] * 3)
    assert len(stored) == 3 and marked == [[], [], []]
    assert len(await other.list_passages(agent.id, limit=10)) == 5


async def test_a_claim_taken_over_rolls_the_write_back(store: Any, other: Any) -> None:
    agent = await make_agent(store)
    now = time.time()
    first = await store.claim_request_key(agent.id, "k", "fp", now=now - 700, ttl_s=TTL, lease_s=600)
    # the first run outlived its lease: a retry took the key over
    assert (await other.claim_request_key(agent.id, "k", "fp", now=now, ttl_s=TTL, lease_s=600)).outcome == "claimed"
    late = HeldKey(agent.id, "k", "fp", first.created_at)
    [old] = await store.insert_passages([passage(agent.id, "old", now - 5)])
    with pytest.raises(KeyClaimLost):
        await store.write_passages([passage(agent.id, "late", now)], [[old.id]], keyed=KeyedPassages(late, answer))
    assert [p.text for p in await other.list_passages(agent.id)] == ["old"]
    [kept] = await other.get_passages(agent.id, [old.id])
    assert kept.superseded_by is None
    # the late run can neither finish nor release the claim that took over
    assert await store.finish_request_key(agent.id, "k", "fp", status=201, body="{}",
                                          claimed_at=first.created_at) is False
    await store.release_request_key(agent.id, "k", "fp", claimed_at=first.created_at)
    assert (await other.claim_request_key(agent.id, "k", "fp", now=now + 1, ttl_s=TTL,
                                          lease_s=600)).outcome == "running"


def imported(agent_id: str, role: Any, content: str, at: float) -> Message:
    return msg(agent_id, role, content, at=at, kind="imported", in_context=False)


async def test_append_imports_skips_what_earlier_imports_stored_as_a_multiset(store: Any) -> None:
    agent = await make_agent(store)
    t0 = 1_700_000_000.5
    first = await store.append_imports([imported(agent.id, "user", "hi", t0),
                                        imported(agent.id, "assistant", "yo", t0)])
    assert [m.content for m in first] == ["hi", "yo"]
    await store.append_messages([msg(agent.id, "user", "hi", at=t0)])  # a live line is never an earlier import
    again = await store.append_imports([
        imported(agent.id, "user", "hi", t0), imported(agent.id, "user", "hi", t0),  # said twice: one is new
        imported(agent.id, "user", "yo", t0),  # the other side: new
        imported(agent.id, "assistant", "yo", t0 + 1)])  # another time: new
    assert [(m.role, m.content, m.created_at) for m in again] == [
        ("user", "hi", t0), ("user", "yo", t0), ("assistant", "yo", t0 + 1)]
    assert [m.seq for m in again] == [first[-1].seq + 2, first[-1].seq + 3, first[-1].seq + 4]  # no gaps
    assert await store.append_imports([imported(agent.id, "user", "hi", t0)]) == []


async def test_overlapping_imports_from_two_processes_at_once_store_the_overlap_once(store: Any, other: Any
                                                                                      ) -> None:
    agent = await make_agent(store)
    t0 = 1_700_000_000.0
    lines = [(("user", "assistant")[i % 2], f"line {i}", t0 + i) for i in range(40)]
    for round_ in range(4):
        batches = [[imported(agent.id, role, f"{text} r{round_}", at) for role, text, at in lines[k:k + 30]]
                   for k in (0, 5, 10, 0)]
        done = await asyncio.gather(*(s.append_imports(b) for s, b in zip((store, other, store, other), batches,
                                                                         strict=True)))
        assert sum(len(d) for d in done) == 40
    rows = await store.list_messages(agent.id)
    assert len(rows) == 160 and len({(m.role, m.content, m.created_at) for m in rows}) == 160
    assert [m.seq for m in rows] == list(range(1, 161))


async def test_a_renewed_claim_is_not_taken_over_and_a_lost_one_cannot_be_renewed(store: Any, other: Any) -> None:
    agent = await make_agent(store)
    now = time.time()
    first = await store.claim_request_key(agent.id, "k", "fp", now=now, ttl_s=TTL, lease_s=60)
    held = HeldKey(agent.id, "k", "fp", first.created_at)
    assert await store.renew_request_key(held, lease_until=now + 120) is True
    assert (await other.claim_request_key(agent.id, "k", "fp", now=now + 90, ttl_s=TTL,
                                          lease_s=60)).outcome == "running"  # renewed: still held at +90 s
    taken = await other.claim_request_key(agent.id, "k", "fp", now=now + 121, ttl_s=TTL, lease_s=60)
    assert taken.outcome == "claimed"  # not renewed again: its process is taken for dead
    assert await store.renew_request_key(held, lease_until=now + 200) is False  # the new claim is not the old one's
    mine = HeldKey(agent.id, "k", "fp", taken.created_at)
    assert await other.finish_request_key(agent.id, "k", "fp", status=201, body="{}", claimed_at=taken.created_at)
    assert await other.renew_request_key(mine, lease_until=now + 300) is False  # finished: nothing to renew
