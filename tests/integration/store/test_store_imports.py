"""An import is one transaction with its memory jobs and its request key's response, on SQLite and PostgreSQL
(store contract ``import_messages``): the lines, an "import" job per range ``parts`` gives, and the first response
are stored together or not at all, so no line is left that no job will archive and a retry never finds the first
attempt's lines without its response."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.integration.store.helpers import make_agent, msg
from voice_letta.agent.models import Message
from voice_letta.agent.ports import HandoffRange, HeldKey, KeyClaimLost, KeyedImport, MemoryJob

TTL = 24 * 3600.0
T0 = 1_700_000_000.0


def lines(agent_id: str, n: int, tag: str = "") -> list[Message]:
    return [msg(agent_id, ("user", "assistant")[i % 2], f"line {i}{tag}", at=T0 + i, kind="imported",
                in_context=False) for i in range(n)]


def halves(stored: list[Message]) -> list[HandoffRange]:
    mid = len(stored) // 2
    return [HandoffRange(older_from_seq=stored[0].seq, older_through_seq=stored[mid - 1].seq),
            HandoffRange(older_from_seq=stored[mid].seq, older_through_seq=stored[-1].seq)]


def answer(stored: list[Message], jobs: list[MemoryJob]) -> tuple[int, str]:
    return 202, f"{len(stored)}:{','.join(str(j.id) for j in jobs)}"


async def test_lines_jobs_and_the_keys_response_are_stored_together(store: Any, other: Any) -> None:
    agent = await make_agent(store)
    [said] = await store.append_messages([msg(agent.id, "user", "hello", at=T0 - 10)])
    now = time.time()
    claim = await store.claim_request_key(agent.id, "k", "fp", now=now, ttl_s=TTL, lease_s=60)
    held = HeldKey(agent.id, "k", "fp", claim.created_at)
    stored, jobs = await store.import_messages(lines(agent.id, 10), parts=halves, now=now,
                                               keyed=KeyedImport(held, answer))
    assert [m.seq for m in stored] == list(range(said.seq + 1, said.seq + 11))
    assert [(j.kind, j.status, j.payload.older_from_seq, j.payload.older_through_seq, j.through_seq) for j in jobs] == [
        ("import", "pending", said.seq + 1, said.seq + 5, 0), ("import", "pending", said.seq + 6, said.seq + 10, 0)]
    assert [j.id for j in await other.list_memory_jobs(agent.id)] == [j.id for j in jobs]
    found = await other.claim_request_key(agent.id, "k", "fp", now=now + 1, ttl_s=TTL, lease_s=60)
    assert (found.outcome, found.status, found.body) == ("replay", 202, f"10:{jobs[0].id},{jobs[1].id}")
    # the same lines again: nothing stored, so no job (``parts`` is not asked), and the response still recorded
    claim = await store.claim_request_key(agent.id, "k2", "fp", now=now, ttl_s=TTL, lease_s=60)
    again = KeyedImport(HeldKey(agent.id, "k2", "fp", claim.created_at), answer)
    assert await store.import_messages(lines(agent.id, 10), parts=halves, now=now, keyed=again) == ([], [])
    assert (await other.claim_request_key(agent.id, "k2", "fp", now=now + 1, ttl_s=TTL, lease_s=60)).body == "0:"
    assert len(await other.list_memory_jobs(agent.id)) == 2
    # without parts: the lines only (``append_imports``)
    stored, jobs = await store.import_messages(lines(agent.id, 4, " more"))
    assert (len(stored), jobs) == (4, [])


async def test_nothing_is_stored_when_the_jobs_fail_or_the_claim_was_taken_over(store: Any, other: Any) -> None:
    agent = await make_agent(store)

    def broken(stored: list[Message]) -> list[HandoffRange]:
        raise RuntimeError("planning the jobs failed after the lines were inserted")

    with pytest.raises(RuntimeError):
        await store.import_messages(lines(agent.id, 6), parts=broken, now=time.time())
    assert await other.list_messages(agent.id) == [] and await other.list_memory_jobs(agent.id) == []
    now = time.time()
    first = await store.claim_request_key(agent.id, "k", "fp", now=now - 700, ttl_s=TTL, lease_s=600)
    assert (await other.claim_request_key(agent.id, "k", "fp", now=now, ttl_s=TTL, lease_s=600)).outcome == "claimed"
    late = KeyedImport(HeldKey(agent.id, "k", "fp", first.created_at), answer)
    with pytest.raises(KeyClaimLost):
        await store.import_messages(lines(agent.id, 6), parts=halves, now=now, keyed=late)
    assert await other.list_messages(agent.id) == [] and await other.list_memory_jobs(agent.id) == []
    # and the import is then stored whole, as the first attempt would have
    stored, jobs = await other.import_messages(lines(agent.id, 6), parts=halves, now=now)
    assert (len(stored), len(jobs)) == (6, 2)


def whole(stored: list[Message]) -> list[HandoffRange]:
    return [HandoffRange(older_from_seq=stored[0].seq, older_through_seq=stored[-1].seq)]


async def test_lines_no_job_archived_get_jobs_when_an_import_with_parts_matches_them(store: Any, other: Any) -> None:
    """Lines first imported without ``parts`` (``"archive": false``) are handed to an import job when a later import
    with ``parts`` matches them, as one run of their own; lines a job archived are not, and once archived no import
    starts a job for them again."""
    agent = await make_agent(store)
    quiet = lines(agent.id, 4, " quiet")
    kept = lines(agent.id, 2, " kept")
    new = lines(agent.id, 2, " new")
    first, _ = await store.import_messages(quiet)
    _, [job] = await store.import_messages(kept, parts=whole, now=T0)
    stored, jobs = await store.import_messages([*quiet, *kept, *new], parts=whole, now=T0)
    assert [m.content for m in stored] == [m.content for m in new]
    assert [(j.payload.older_from_seq, j.payload.older_through_seq) for j in jobs] == [
        (first[0].seq, first[-1].seq), (stored[0].seq, stored[-1].seq)]
    assert [j.id for j in await other.list_memory_jobs(agent.id)] == [job.id, *(j.id for j in jobs)]
    assert await store.import_messages([*quiet, *kept, *new], parts=whole, now=T0) == ([], [])
