"""A memory job survives SIGKILL of the server mid-run and completes exactly once after a restart."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Pause, Text
from tests.integration.agent.conftest import openai_llm
from tests.integration.memory.conftest import finish_call, rethink_call, sleeptime_requests, store_call

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    def __init__(self, db: Path, port: int) -> None:
        self.db, self.port = db, port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {**os.environ, "FAKE_OPENAI_KEY": "sk-fake", "PYTHONUNBUFFERED": "1"}
        env.pop("VOICE_LETTA_API_KEY", None)
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voice_letta.cli", "serve", "--db", str(self.db), "--port", str(self.port),
            "--no-preload", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        async with asyncio.timeout(30):
            while True:
                try:
                    status, _ = await self.request("GET", "/health")
                    if status == 200:
                        return
                except aiohttp.ClientError:
                    pass
                assert self.proc.returncode is None, "server exited"
                await asyncio.sleep(0.1)

    async def request(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as s, s.request(method, self.url + path, **kw) as r:
            return r.status, await r.json(content_type=None)

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(15):
                    await self.proc.wait()
            except TimeoutError:
                await self.kill()


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
