"""A server process SIGKILLed inside a keyed memory write, then the client's retry, on one database (SQLite file
or PostgreSQL): everything is stored exactly once. And overlapping imports without keys sent at once to two
servers store the overlap once.

The kill comes from a crash point the test arms in the server's environment (``store/faults.py``), never from a
request: inside the write's transaction after its rows and the key's response were written (rolled back: the
retry, once the dead claim's lease is over, runs the write again), after that commit (the retry is the replay),
and inside an import's transaction between its lines and their memory jobs (nothing stored: the retry answers as
the first attempt would have, and every line gets its job).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.workers.procs import Serve, query
from tests.integration.workers.test_workers import database, launch  # noqa: F401 - fixtures
from voice_letta.store.faults import CRASH_ENV, IMPORT_LINES_STORED, KEYED_WRITE_COMMITTED, KEYED_WRITE_UNCOMMITTED

Launch = Callable[..., Awaitable[Serve]]


async def post(serve: Serve, path: str, body: Any, key: str | None = None) -> tuple[int, Any, bool]:
    headers = {"Idempotency-Key": key} if key is not None else {}
    async with aiohttp.ClientSession() as s, s.post(serve.url + path, json=body, headers=headers) as r:
        return r.status, await r.json(), r.headers.get("Idempotent-Replayed") == "true"


async def count(db: str, sql: str, *params: Any) -> int:
    return int((await query(db, sql, *params))[0][0])


def _sqlite_write(db: str, sql: str) -> None:
    conn = sqlite3.connect(db)
    try:
        conn.execute(sql)
        conn.commit()
    finally:
        conn.close()


async def end_leases(db: str) -> None:
    """What a minute without renewals does to the dead request's claim: its lease is over."""
    sql = "UPDATE request_keys SET lease_until = 0 WHERE status IS NULL"
    if not db.startswith("postgresql://"):
        await asyncio.to_thread(_sqlite_write, db, sql)
        return
    import asyncpg

    conn = await asyncpg.connect(db)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def killed_inside(start: Launch, monkeypatch: pytest.MonkeyPatch, fake: FakeOpenAIServer, point: str,
                        path: str, body: Any, key: str) -> tuple[Serve, str]:
    """A server armed to die at ``point`` and an agent; the request dies with it. Returns a fresh server."""
    monkeypatch.setenv(CRASH_ENV, point)
    doomed = await start()
    agent = await doomed.create_agent(fake)
    with pytest.raises(aiohttp.ClientError):
        await post(doomed, path.format(agent=agent), body, key)
    assert doomed.proc is not None
    assert await asyncio.wait_for(doomed.proc.wait(), 30) == -9, doomed.log()
    monkeypatch.delenv(CRASH_ENV)
    return await start(), agent


BATCH = {"passages": [{"text": f"Fact {i}: the night ferry from Vigo to Cangas left at {i} past ten."}
                      for i in range(20)]}


async def test_killed_inside_the_write_transaction_the_retry_stores_the_batch_once(
        launch: Launch, monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAIServer) -> None:  # noqa: F811
    path = "/v1/agents/{agent}/archival/batch"
    serve, agent = await killed_inside(launch, monkeypatch, fake_openai, KEYED_WRITE_UNCOMMITTED, path, BATCH, "b1")
    passages = "SELECT count(*) FROM passages WHERE agent_id = ?"
    assert await count(serve.db, passages, agent) == 0  # rolled back with the process
    status, data, _ = await post(serve, path.format(agent=agent), BATCH, "b1")
    assert (status, data["error"]["code"]) == (409, "idempotency_key_in_use")  # the dead claim's lease holds
    await end_leases(serve.db)
    status, first, replayed = await post(serve, path.format(agent=agent), BATCH, "b1")
    assert (status, replayed, len(first["data"])) == (201, False, 20)
    assert (await post(serve, path.format(agent=agent), BATCH, "b1"))[1:] == (first, True)
    assert await count(serve.db, passages, agent) == 20


async def test_killed_after_the_write_committed_the_retry_is_its_replay(
        launch: Launch, monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAIServer) -> None:  # noqa: F811
    path = "/v1/agents/{agent}/archival"
    body = {"text": "Sam's sister Ines moved to Lisbon.", "start_at": 1_796_544_000}
    serve, agent = await killed_inside(launch, monkeypatch, fake_openai, KEYED_WRITE_COMMITTED, path, body, "p1")
    status, data, replayed = await post(serve, path.format(agent=agent), body, "p1")
    stored = await query(serve.db, "SELECT id FROM passages WHERE agent_id = ?", agent)
    assert (status, replayed, [(data["id"],)]) == (201, True, stored)


IMPORT = {"messages": [{"role": ("user", "assistant")[i % 2], "content": f"line {i} about the ferry to Cangas",
                        "said_at": 1_700_000_000 + i} for i in range(30)]}
LINES = "SELECT count(*) FROM messages WHERE agent_id = ? AND kind = 'imported'"


async def import_jobs(db: str, agent: str) -> list[tuple[int, int]]:
    """The (older_from_seq, older_through_seq) of the agent's import jobs, in order."""
    found = await query(db, "SELECT payload FROM memory_jobs WHERE agent_id = ? AND kind = 'import' ORDER BY id",
                        agent)
    return [(p["older_from_seq"], p["older_through_seq"]) for p in (json.loads(r[0]) for r in found)]


async def test_killed_between_an_imports_lines_and_their_jobs_the_retry_answers_as_the_first_would(
        launch: Launch, monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAIServer) -> None:  # noqa: F811
    path = "/v1/agents/{agent}/messages/import"
    serve, agent = await killed_inside(launch, monkeypatch, fake_openai, IMPORT_LINES_STORED, path, IMPORT, "i1")
    # the lines, their jobs and the key's response are one transaction: the process took all of it with it
    assert (await count(serve.db, LINES, agent), await import_jobs(serve.db, agent)) == (0, [])
    assert (await post(serve, path.format(agent=agent), IMPORT, "i1"))[0] == 409  # the dead claim's lease holds
    await end_leases(serve.db)
    status, first, replayed = await post(serve, path.format(agent=agent), IMPORT, "i1")
    assert (status, replayed, first["imported"], first["duplicates"]) == (202, False, 30, 0)
    assert first["last_seq"] - first["first_seq"] == 29 and first["job_ids"] and first["job_id"] == first["job_ids"][0]
    jobs = await import_jobs(serve.db, agent)
    assert (jobs[0][0], jobs[-1][1]) == (first["first_seq"], first["last_seq"])  # every line is archived
    assert (await post(serve, path.format(agent=agent), IMPORT, "i1"))[1:] == (first, True)
    # the same crash without a key: nothing stored, and sending the import again stores it whole, with its jobs
    monkeypatch.setenv(CRASH_ENV, IMPORT_LINES_STORED)
    doomed = await launch()
    again = {"messages": [{**m, "content": m["content"] + " (again)"} for m in IMPORT["messages"]]}
    with pytest.raises(aiohttp.ClientError):
        await post(doomed, path.format(agent=agent), again)
    assert doomed.proc is not None and await asyncio.wait_for(doomed.proc.wait(), 30) == -9, doomed.log()
    monkeypatch.delenv(CRASH_ENV)
    assert await count(serve.db, LINES, agent) == 30
    status, data, _ = await post(serve, path.format(agent=agent), again)
    assert (status, data["imported"], data["duplicates"]) == (202, 30, 0) and data["job_ids"]
    assert (await import_jobs(serve.db, agent))[-1][1] == data["last_seq"]


async def test_killed_after_an_import_committed_the_retry_is_its_replay(
        launch: Launch, monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAIServer) -> None:  # noqa: F811
    path = "/v1/agents/{agent}/messages/import"
    serve, agent = await killed_inside(launch, monkeypatch, fake_openai, KEYED_WRITE_COMMITTED, path, IMPORT, "i2")
    assert await count(serve.db, LINES, agent) == 30
    status, data, replayed = await post(serve, path.format(agent=agent), IMPORT, "i2")
    assert (status, replayed, data["imported"], data["duplicates"]) == (202, True, 30, 0)  # not "duplicates 30"
    assert [j for j, _ in await query(serve.db, "SELECT id, kind FROM memory_jobs WHERE agent_id = ? "
                                      "AND kind = 'import' ORDER BY id", agent)] == data["job_ids"]
    assert await count(serve.db, LINES, agent) == 30


async def test_overlapping_imports_without_keys_at_once_on_two_servers_store_the_overlap_once(
        launch: Launch, fake_openai: FakeOpenAIServer) -> None:  # noqa: F811
    one, two = await launch(), await launch()
    agent = await one.create_agent(fake_openai)
    path = f"/v1/agents/{agent}/messages/import"
    lines = [{"role": ("user", "assistant")[i % 2], "content": f"line {i}: the ferry leaves at {i} past ten",
              "said_at": 1_700_000_000 + i} for i in range(80)]
    for round_ in range(3):
        said = [{**m, "content": f"{m['content']} (round {round_})"} for m in lines]
        parts = [said[k:k + 60] for k in (0, 10, 20, 0, 10, 20)]
        replies = await asyncio.gather(*(post(s, path, {"messages": part, "archive": False})
                                         for s, part in zip([one, two] * 3, parts, strict=True)))
        assert all(status == 202 for status, _, _ in replies), replies
        assert sum(data["imported"] for _, data, _ in replies) == 80
    rows = await query(one.db, "SELECT role, content, created_at FROM messages WHERE agent_id = ?", agent)
    assert len(rows) == 240 and len(set(rows)) == 240
