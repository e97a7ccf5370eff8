"""Several real server processes on one SQLite database: ``serve --workers 2``, and two separate ``serve``s.

What must hold across processes: an agent's turns run one at a time (the lease), memory.updated reaches a live
session in another process, every memory job runs exactly once, and a worker killed with SIGKILL mid-turn loses
no user message and leaves no job behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fakes.native_client import NativeClient
from tests.fakes.openai_server import FakeOpenAIServer, Pause, Text, ToolCall
from tests.integration.workers.procs import Serve, openai_llm, query
from tests.postgres import Databases

SLEEPTIME = "fake-sleeptime"
_SLEEPTIME_ARGS = {"store_memories": {"chunks": []}, "rethink_user_memory": {"new_memory": "Nothing new yet."}}


def sleeptime_turn(body: dict[str, Any]) -> list[Any]:
    """A sleeptime model that makes the one call the run asks for (finishing when it may choose)."""
    choice = body.get("tool_choice")
    name = choice["function"]["name"] if isinstance(choice, dict) else "finish_rethinking_memory"
    return [ToolCall(name, json.dumps(_SLEEPTIME_ARGS.get(name, {})))]


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path, pg_databases: Databases) -> str:
    """The one database every process of a test shares: a SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "shared.db")
    return await pg_databases.create()


@pytest.fixture
async def launch(tmp_path: Path, database: str) -> AsyncIterator[Callable[..., Awaitable[Serve]]]:
    started: list[Serve] = []

    async def start(workers: int = 1) -> Serve:
        serve = Serve(database, tmp_path / f"serve-{len(started)}.log", workers=workers)
        started.append(serve)
        await serve.start()
        return serve

    try:
        yield start
    finally:
        await asyncio.gather(*(s.stop() for s in started))


async def db_rows(serve: Serve, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return await query(serve.db, sql, *params)


async def until(check: Callable[[], Awaitable[Any]], timeout_s: float = 30.0, poll_s: float = 0.1) -> Any:
    async with asyncio.timeout(timeout_s):
        while True:
            if result := await check():
                return result
            await asyncio.sleep(poll_s)


async def running_jobs(serve: Serve) -> list[tuple[Any, ...]]:
    return await db_rows(serve, "SELECT id, claimed_by FROM memory_jobs WHERE status = 'running'")


async def chat(serve: Serve, agent: str, text: str, history: list[dict[str, str]] | None = None) -> str:
    messages = [*(history or []), {"role": "user", "content": text}]
    status, body = await serve.call("POST", "/v1/chat/completions", json={"model": agent, "messages": messages})
    assert status == 200, body
    return str(body["choices"][0]["message"]["content"])


async def test_two_processes_run_one_agent_s_turns_one_at_a_time(launch, fake_openai: FakeOpenAIServer) -> None:
    a, b = await launch(), await launch()
    agent = await a.create_agent(fake_openai)
    fake_openai.script([Text("First "), Pause(1.0), Text("answer.")], [Text("Second answer.")])
    first = asyncio.create_task(chat(a, agent, "one"))

    async def a_is_talking() -> bool:  # a holds the lease and is talking to the model
        return bool(fake_openai.requests)

    await until(a_is_talking, poll_s=0.02)
    second = await chat(b, agent, "two")
    assert first.done() and await first == "First answer." and second == "Second answer."
    rows = await db_rows(a, "SELECT role, content FROM messages WHERE agent_id = ? ORDER BY seq", agent)
    assert rows == [("user", "one"), ("assistant", "First answer."), ("user", "two"), ("assistant", "Second answer.")]
    # b's request carried a's finished exchange, never half of it
    assert [m["content"] for m in fake_openai.requests[1]["messages"][1:3]] == ["one", "First answer."]


async def test_a_retry_that_reaches_another_process_replays_the_finished_turn(launch, fake_openai) -> None:
    a, b = await launch(), await launch()
    agent = await a.create_agent(fake_openai)
    fake_openai.script([Text("The answer is four.")], [Text("Should not be asked.")])
    assert await chat(a, agent, "What is two plus two?") == "The answer is four."
    # the framework did not get the reply (say, a timeout) and sends the same request again, to the other process
    assert await chat(b, agent, "What is two plus two?") == "The answer is four."
    assert len(fake_openai.requests) == 1
    rows = await db_rows(a, "SELECT role, content FROM messages WHERE agent_id = ? ORDER BY seq", agent)
    assert rows == [("user", "What is two plus two?"), ("assistant", "The answer is four.")]


async def test_memory_updated_reaches_a_live_session_in_another_process(launch, fake_openai) -> None:
    a, b = await launch(), await launch()
    agent = await a.create_agent(fake_openai)
    async with await NativeClient.open(b.url, agent=agent) as client:
        await client.send(type="ping")
        await client.wait_for("pong")
        status, _ = await a.call("PATCH", f"/v1/agents/{agent}/blocks/human", json={"value": "Name: Ada."})
        assert status == 200
        event = await client.wait_for("memory.updated")
        assert {"label": "human", "value": "Name: Ada.", "version": 2} in event["blocks"]


async def test_every_memory_job_runs_exactly_once_across_two_processes(launch, fake_openai) -> None:
    a, b = await launch(), await launch()
    # The sleeptime model runs every job through its three calls; the voice model answers "OK.". Each job's first
    # sleeptime request (the one asking for store_memories) carries its own transcript: counting those counts runs.
    fake_openai.model_handlers[SLEEPTIME] = sleeptime_turn
    agents = [await a.create_agent(fake_openai, name=f"agent-{i}", sleeptime_llm=openai_llm(fake_openai, SLEEPTIME),
                                   buffer={"max_messages": 6, "min_messages": 5}) for i in range(4)]

    async def talk(agent: str, n: int) -> None:
        for k in range(n):
            await chat((a, b)[k % 2], agent, f"{agent} line {k}")

    await asyncio.gather(*(talk(agent, 12) for agent in agents))
    async def all_done() -> list[tuple[Any, ...]]:
        jobs = await db_rows(a, "SELECT id, agent_id, status, attempts, claimed_by FROM memory_jobs")
        return jobs if jobs and all(j[2] == "done" for j in jobs) else []

    jobs = await until(all_done, 60)
    assert len(jobs) >= 2 * len(agents)
    assert all(j[3] == 1 for j in jobs), jobs  # nobody claimed a job twice
    first_requests = [r for r in fake_openai.requests if r["model"] == SLEEPTIME
                      and r.get("tool_choice") == {"type": "function", "function": {"name": "store_memories"}}]
    transcripts = [r["messages"][1]["content"] for r in first_requests]
    assert len(transcripts) == len(jobs) and len(set(transcripts)) == len(jobs)


async def test_a_worker_killed_mid_turn_loses_no_user_message(launch, fake_openai) -> None:
    serve = await launch(workers=2)
    agent = await serve.create_agent(fake_openai)
    fake_openai.script([Text("Let me think"), Pause(60)], [Text("Here you go.")])
    messages = [{"role": "user", "content": "What is the plan?"}]
    body = {"model": agent, "stream": True, "messages": messages}
    async with aiohttp.ClientSession() as s, s.post(serve.url + "/v1/chat/completions", json=body) as r:
        async for line in r.content:
            if b"Let me think" in line:
                break
        [(holder,)] = await db_rows(serve, "SELECT holder FROM agent_leases WHERE agent_id = ? AND busy = 1", agent)
        os.kill(serve.worker_pids()[holder], signal.SIGKILL)
        with pytest.raises(aiohttp.ClientError):
            async for _ in r.content:
                pass
    # The framework retries the same request; whichever worker takes it runs the same turn again.
    await serve.wait_healthy()
    status, reply = await serve.call("POST", "/v1/chat/completions", json={**body, "stream": False})
    assert status == 200 and reply["choices"][0]["message"]["content"] == "Here you go."

    async def ended() -> bool:  # the reply is sent first, the turn's end stored right after (docs/protocol.md)
        return await db_rows(serve, "SELECT count(ended_at) FROM turns WHERE agent_id = ?", agent) == [(1,)]

    await until(ended, timeout_s=10, poll_s=0.02)
    rows = await db_rows(serve, "SELECT role, content FROM messages WHERE agent_id = ? ORDER BY seq", agent)
    assert rows == [("user", "What is the plan?"), ("assistant", "Here you go.")]
    turns = await db_rows(serve, "SELECT count(*), count(ended_at) FROM turns WHERE agent_id = ?", agent)
    assert turns == [(1, 1)]


async def test_a_worker_killed_mid_job_leaves_the_job_to_another(launch, fake_openai) -> None:
    serve = await launch(workers=2)
    store = json.dumps({"chunks": [{"start_index": 0, "end_index": 1, "context": "The user keeps bees."}]})
    # first run: stuck in its first model call (the worker is killed there); the re-run archives and finishes
    fake_openai.model_scripts[SLEEPTIME] = [[Pause(60)], [ToolCall("store_memories", store)]]
    fake_openai.model_handlers[SLEEPTIME] = sleeptime_turn
    agent = await serve.create_agent(fake_openai, sleeptime_llm=openai_llm(fake_openai, SLEEPTIME),
                                     buffer={"max_messages": 6, "min_messages": 5})
    for k in range(4):
        await chat(serve, agent, f"I keep bees, note {k}.")
    [(job_id, holder)] = await until(lambda: running_jobs(serve))

    async def stuck_in_the_model() -> bool:
        return any(r["model"] == SLEEPTIME for r in fake_openai.requests)

    await until(stuck_in_the_model)
    os.kill(serve.worker_pids()[holder], signal.SIGKILL)

    async def done() -> bool:
        return await db_rows(serve, "SELECT status FROM memory_jobs WHERE id = ?", job_id) == [("done",)]

    await until(done)
    [(attempts, claimed_by)] = await db_rows(serve, "SELECT attempts, claimed_by FROM memory_jobs WHERE id = ?",
                                             job_id)
    assert attempts == 2 and claimed_by != holder
    assert await db_rows(serve, "SELECT count(*) FROM passages WHERE job_id = ?", job_id) == [(1,)]
