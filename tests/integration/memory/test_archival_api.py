"""Archival REST (list/search/add/delete), time windows on when words were said, buffer-config validation."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent, seed_history
from voice_letta import ids
from voice_letta.agent.models import Passage
from voice_letta.server.http_memory import MEMORY_SEARCH

DAY = 86400.0


async def test_add_list_search_and_delete_passages(server: Running) -> None:
    agent = await create_voice_agent(server)
    base = f"/v1/agents/{agent['id']}/archival"
    facts = [("The user's dog is a corgi named Biscuit.", "Pets"),
             ("The user works night shifts as a nurse.", "Work"),
             ("The user's favourite food is ramen.", "Food")]
    created = []
    for text, synopsis in facts:
        status, body = await server.request("POST", base, json={"text": text, "synopsis": synopsis})
        assert status == 201, body
        created.append(body)
    assert created[0]["embedding_model"] == "all-MiniLM-L6-v2" and "embedding" not in created[0]
    status, listed = await server.request("GET", base)
    assert listed["total"] == 3 and [p["text"] for p in listed["data"]] == [f for f, _ in facts]

    status, found = await server.request("GET", f"{base}/search", params={"query": "what pet do I have?"})
    assert status == 200 and found["data"][0]["id"] == created[0]["id"]  # found by meaning, not words
    assert found["data"][0]["score"] > 0

    status, deleted = await server.request("DELETE", f"{base}/{created[0]['id']}")
    assert status == 200 and deleted == {"id": created[0]["id"], "deleted": True}
    status, found = await server.request("GET", f"{base}/search", params={"query": "corgi Biscuit"})
    assert all(p["id"] != created[0]["id"] for p in found["data"])
    status, _again = await server.request("DELETE", f"{base}/{created[0]['id']}")
    assert status == 404
    status, _bad = await server.request("GET", f"{base}/search")
    assert status == 400
    status, _bad = await server.request("POST", base, json={"synopsis": "no text"})
    assert status == 400


async def test_time_window_selects_by_when_the_words_were_said(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    # Both archived just now, but said three days apart.
    old = Passage(id=ids.passage_id(), agent_id=agent["id"], text="user: I ran a marathon in Berlin.",
                  synopsis="The user ran the Berlin marathon.", start_at=now - 3 * DAY, end_at=now - 3 * DAY + 60,
                  created_at=now)
    recent = Passage(id=ids.passage_id(), agent_id=agent["id"], text="user: I ran a 5k in the park.",
                     synopsis="The user ran a 5k race in the park.", start_at=now - 3600, end_at=now - 3500,
                     created_at=now)
    search = server.app[MEMORY_SEARCH]
    embedder = await search.embedder_for(agent["id"])
    assert embedder is not None
    vectors = await embedder.embed([f"{p.synopsis}\n{p.text}" for p in (old, recent)])
    await server.store.insert_passages([
        p.model_copy(update={"embedding": v, "embedding_model": embedder.model})
        for p, v in zip((old, recent), vectors, strict=True)])
    # An evicted message said two days ago, and one still in context.
    [said, _] = await seed_history(server, agent["id"], ["user: Running hurts my knee lately.",
                                                         "assistant: Sorry to hear."], t0=now - 2 * DAY)
    await server.store.evict_messages(agent["id"], through_seq=said.seq + 1)
    await seed_history(server, agent["id"], ["user: I love running."], t0=now - 60)

    async def ask(start: int | None, end: int | None) -> str:
        return await search.search(agent["id"], "When did I go running?", {
            "convo_keyword_queries": ["ran", "running"], "start_minutes_ago": start, "end_minutes_ago": end},
            now=now)

    everything = await ask(None, None)
    assert "Berlin" in everything and "5k" in everything and "knee" in everything
    assert "I love running" not in everything  # in context: the model already sees it
    last_day = await ask(0, 24 * 60)
    assert "5k" in last_day and "Berlin" not in last_day and "knee" not in last_day
    days_ago = await ask(24 * 60, 4 * 24 * 60)
    assert "Berlin" in days_ago and "knee" in days_ago and "5k" not in days_ago
    assert "3 days ago" in days_ago and "2 days ago" in days_ago
    # Bounds the model set on a question whose words name no time are its guess: nothing in them, so any time is
    # searched and the model is told the answer lies outside them (the embedded model searched "12 to 8 minutes
    # ago" for "What's my bike lock code?" and told the user it had no such memory).
    outside = await ask(10 * 24 * 60, 20 * 24 * 60)
    assert outside.startswith("Nothing from the time you searched matches; from any time:"), outside
    assert "Berlin" in outside or "5k" in outside, outside
    # A time the user's own words name is theirs: nothing said then is the answer.
    named = await search.search(agent["id"], "What did I say about running three weeks ago?", {
        "convo_keyword_queries": ["running"]}, now=now)
    assert named.startswith("No memories matched"), named


INVALID: list[tuple[int | None, int | None, str]] = [
    (None, 30, "must be greater than"), (15, None, "must be greater than"), (5, 5, "must be greater than"),
    (6, 7, "must be greater than"), (4, 5, "greater than 4"), (5, 4, "greater than 4"),
    (1, 10, "greater than 4"), (10, 1, "greater than 4"),
]


@pytest.mark.parametrize(("max_m", "min_m", "message"), INVALID)
async def test_invalid_buffer_lengths_are_rejected_by_the_api(
    server: Running, max_m: int | None, min_m: int | None, message: str
) -> None:
    buffer: dict[str, Any] = {}
    if max_m is not None:
        buffer["max_messages"] = max_m
    if min_m is not None:
        buffer["min_messages"] = min_m
    status, body = await server.request("POST", "/v1/agents", json={"name": "x", "buffer": buffer})
    assert status == 400, body
    assert message in body["error"]["message"]


@pytest.mark.parametrize(("buffer", "expected"), [
    ({"max_messages": 10, "min_messages": 5}, (10, 5)),
    ({"max_messages": 31}, (31, 15)),
    ({"min_messages": 16}, (30, 16)),
])
async def test_valid_buffer_lengths_fill_defaults(server: Running, buffer: dict[str, int],
                                                  expected: tuple[int, int]) -> None:
    status, body = await server.request("POST", "/v1/agents", json={"name": "x", "buffer": buffer})
    assert status == 201, body
    assert (body["buffer"]["max_messages"], body["buffer"]["min_messages"]) == expected


async def test_a_search_window_that_ends_before_it_starts_is_a_400(server: Running) -> None:
    """Swapped start_at / end_at read an empty window: 200 with nothing, and an agent that remembers nothing (found
    from outside, QA session 9). A window of one instant (start_at == end_at) is still a window."""
    agent = await create_voice_agent(server)
    now = time.time()
    status, made = await server.request("POST", f"/v1/agents/{agent['id']}/archival", json={
        "text": "user: the plumber comes on friday", "start_at": now - 3600})
    assert status == 201
    path = f"/v1/agents/{agent['id']}/archival/search"
    status, body = await server.request("GET", path, params={
        "query": "plumber", "start_at": str(now), "end_at": str(now - 2 * 3600)})
    assert status == 400 and body["error"]["param"] == "end_at" and body["error"]["code"] == "invalid_request"
    status, body = await server.request("GET", path, params={
        "query": "plumber", "start_at": str(now - 2 * 3600), "end_at": str(now)})
    assert status == 200 and [p["id"] for p in body["data"]] == [made["id"]]
    status, body = await server.request("GET", path, params={
        "query": "plumber", "start_at": str(now - 3600), "end_at": str(now - 3600)})
    assert status == 200 and body["window"]["from"] == "given"
