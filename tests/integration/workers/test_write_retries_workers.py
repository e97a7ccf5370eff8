"""A retried memory write across real server processes: ``serve --workers 2`` and a second ``serve`` on one
database (SQLite file or PostgreSQL). Retries with one ``Idempotency-Key`` sent at once on fresh connections (so
they land on different workers) store the batch once, and every later retry, to any process, is its replay."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.workers.procs import Serve, query
from tests.integration.workers.test_workers import database, launch  # noqa: F401 - fixtures


async def post(serve: Serve, path: str, body: Any, key: str) -> tuple[int, Any, bool]:
    async with aiohttp.ClientSession() as s, s.post(serve.url + path, json=body,
                                                    headers={"Idempotency-Key": key}) as r:
        return r.status, await r.json(), r.headers.get("Idempotent-Replayed") == "true"


async def test_one_key_sent_to_every_process_at_once_stores_the_batch_once(
        launch, fake_openai: FakeOpenAIServer) -> None:  # noqa: F811
    workers, other = await launch(workers=2), await launch()
    agent = await workers.create_agent(fake_openai)
    path = f"/v1/agents/{agent}/archival/batch"
    body = {"passages": [{"text": f"Fact {i}: the night ferry from Vigo to Cangas left at {i} past ten."}
                         for i in range(50)]}
    replies = await asyncio.gather(*(post(s, path, body, "sync-1") for s in [workers, other] * 5))
    ran = [r for r in replies if r[0] == 201 and not r[2]]
    assert len(ran) == 1, [(r[0], r[2]) for r in replies]
    for status, data, _ in replies:
        assert (status, data) == (201, ran[0][1]) or (status, data["error"]["code"]) == (409, "idempotency_key_in_use")
    for serve in [workers, other, workers, workers]:  # later retries, on any worker: the first response
        status, data, replayed = await post(serve, path, body, "sync-1")
        assert (status, data, replayed) == (201, ran[0][1], True)
    rows = await query(workers.db, "SELECT count(*) FROM passages WHERE agent_id = ?", agent)
    assert rows[0][0] == 50
    status, data, _ = await post(other, path, {"passages": body["passages"][:1]}, "sync-1")
    assert status == 409 and data["error"]["code"] == "idempotency_key_reused"
