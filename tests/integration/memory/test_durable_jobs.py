"""A memory job survives SIGKILL of the server mid-run and completes exactly once after a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Pause, Text
from tests.integration.agent.conftest import openai_llm
from tests.integration.memory.conftest import finish_call, rethink_call, sleeptime_requests, store_call
from tests.integration.serve_process import ServerProcess, free_port


@pytest.fixture
async def proc(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    server = ServerProcess(tmp_path / "voice.db", free_port())
    try:
        yield server
    finally:
        await server.kill()


async def jobs_of(server: ServerProcess, agent_id: str) -> list[dict[str, Any]]:
    status, body = await server.request("GET", f"/v1/agents/{agent_id}/memory/jobs")
    assert status == 200, body
    data: list[dict[str, Any]] = body["data"]
    return data


@pytest.mark.timeout(120)
async def test_job_interrupted_by_sigkill_completes_once_after_restart(
    proc: ServerProcess, fake_openai: FakeOpenAIServer
) -> None:
    await proc.start()
    status, agent = await proc.request("POST", "/v1/agents", json={
        "name": "durable", "llm": openai_llm(fake_openai),
        "sleeptime_llm": openai_llm(fake_openai, model="fake-sleeptime"),
        "buffer": {"max_messages": 6, "min_messages": 5},
        "blocks": [{"label": "persona", "value": "Helpful."}, {"label": "human", "value": "Unknown."}]})
    assert status == 201, agent
    agent_id = agent["id"]
    lines = ["My name is Ada.", "I keep bees on my roof.", "I'm learning Portuguese.", "Good night."]
    fake_openai.script(*[[Text("Okay.")] for _ in lines])
    # First attempt: store_memories succeeds (passages written), then the model hangs before its rewrite.
    fake_openai.script([store_call((0, 1, "The user is Ada."), (2, 3, "Ada keeps bees on her roof."))],
                       [Pause(60), rethink_call("never written")])
    for text in lines:
        status, body = await proc.request("POST", "/v1/chat/completions", json={
            "model": agent_id, "messages": [{"role": "user", "content": text}]})
        assert status == 200, body
    async with asyncio.timeout(30):
        while len(sleeptime_requests(fake_openai)) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    [job] = await jobs_of(proc, agent_id)
    assert (job["status"], job["attempts"]) == ("running", 1)
    status, listed = await proc.request("GET", f"/v1/agents/{agent_id}/archival")
    assert listed["total"] == 2

    await proc.kill()  # SIGKILL: no shutdown hook runs, the job stays 'running' in the database

    # The re-run: the model archives the same lines again (stored nothing twice), rewrites, finishes.
    fake_openai.script([store_call((0, 3, "Ada, bees, Portuguese."))],
                       [rethink_call("Name: Ada. Keeps bees. Learning Portuguese.")], [finish_call()])
    await proc.start()
    async with asyncio.timeout(30):
        while (await jobs_of(proc, agent_id))[0]["status"] != "done":  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    [job] = await jobs_of(proc, agent_id)
    assert (job["status"], job["attempts"], job["error"]) == ("done", 2, None)
    status, listed = await proc.request("GET", f"/v1/agents/{agent_id}/archival")
    assert listed["total"] == 2
    assert [p["synopsis"] for p in listed["data"]] == ["The user is Ada.", "Ada keeps bees on her roof."]
    rerun_feedback = sleeptime_requests(fake_openai)[3]["messages"][-1]["content"]
    assert "already archived by an earlier attempt" in rerun_feedback
    status, block = await proc.request("GET", f"/v1/agents/{agent_id}/blocks/human")
    assert block["value"] == "Name: Ada. Keeps bees. Learning Portuguese."
    await asyncio.sleep(0.3)
    assert len(sleeptime_requests(fake_openai)) == 5  # nothing ran a third time
    await proc.stop()
