"""Defects found by using the tool sandbox as an outside tool author would: ordinary tool code through
``POST /v1/tools`` + ``/run`` and MCP servers through ``POST /v1/mcp/servers``, against the real server and sandbox."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.agent.conftest import Running, start_server
from tests.integration.tools.mcp_files import FILES, STDIO
from voice_letta.config import SandboxSettings

THREADS = '''
import threading
from concurrent.futures import ThreadPoolExecutor


def crunch(workers: int, mb: int) -> dict:
    """A thread pool, then a large buffer: ordinary work for a tool."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        squares = sum(pool.map(lambda x: x * x, range(1000)))
    buffer = bytearray(mb << 20)
    return {"squares": squares, "mb": len(buffer) >> 20, "threads_seen": threading.active_count()}
'''

THREADS_TS = '''
import { Worker } from "node:worker_threads";

export async function workers(n: number): Promise<number[]> {
  const jobs: Promise<number>[] = [];
  for (let i = 0; i < n; i++) {
    jobs.push(new Promise((resolve, reject) => {
      const w = new Worker("require('node:worker_threads').parentPort.postMessage(21 * 2)", { eval: true });
      w.on("message", (m: number) => { resolve(m); void w.terminate(); });
      w.on("error", reject);
    }));
  }
  return await Promise.all(jobs);
}
'''


@pytest.fixture
async def server(tmp_path: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[Running]:
    running, runner = await start_server(tmp_path, fake_openai, api_key=None, enable_sandbox=True,
                                         sandbox=SandboxSettings(memory_mb=256, timeout_s=30))
    try:
        yield running
    finally:
        await runner.cleanup()


async def register(server: Running, source: str, name: str, source_type: str = "python",
                   **extra: Any) -> dict[str, Any]:
    status, tool = await server.request("POST", "/v1/tools", json={"source_type": source_type, "source": source,
                                                                    "name": name, **extra})
    assert status == 201, tool
    return tool


async def test_a_tool_with_a_thread_pool_and_a_large_buffer_runs_under_the_default_memory_limit(
        server: Running) -> None:
    """Under RLIMIT_AS each glibc thread arena reserved 64 MiB: the fifth thread failed to start ("can't start new
    thread") and a 100 MB buffer then raised MemoryError, with 20 MB in use, under the default 256 MB."""
    tool = await register(server, THREADS, "crunch")
    status, data = await server.request("POST", f"/v1/tools/{tool['id']}/run",
                                        json={"arguments": {"workers": 8, "mb": 100}})
    assert status == 200, data
    assert data["outcome"] == "ok", data
    assert data["result"]["mb"] == 100 and data["result"]["squares"] == sum(x * x for x in range(1000))
    # the limit still holds for memory really used
    status, data = await server.request("POST", f"/v1/tools/{tool['id']}/run",
                                        json={"arguments": {"workers": 2, "mb": 400}})
    assert status == 200 and data["outcome"] == "memory", data


@pytest.mark.skipif(shutil.which("node") is None, reason="TypeScript tools need Node.js")
async def test_a_typescript_tool_can_start_a_worker_thread(server: Running) -> None:
    tool = await register(server, THREADS_TS, "workers", source_type="typescript",
                          parameters={"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
    status, data = await server.request("POST", f"/v1/tools/{tool['id']}/run", json={"arguments": {"n": 1}})
    assert status == 200, data
    assert data["outcome"] == "ok" and data["result"] == [42], data


ECHO_TOOL = '''
def echo(text: str) -> str:
    """A custom tool whose name an MCP server also uses."""
    return text
'''


async def tool_names(server: Running) -> dict[str, str | None]:
    status, tools = await server.request("GET", "/v1/tools")
    assert status == 200
    return {t["name"]: t.get("mcp_server") for t in tools["data"]}


async def test_deleting_an_mcp_server_deletes_its_tools_and_a_refused_server_is_not_registered(
        server: Running) -> None:
    """Seen: DELETE /v1/mcp/servers/{name} left the server's tools listed (and attached), so the same program
    registered under another name got 409 'a tool named ... already exists' — and stayed registered and
    running after that 409, with no tools."""
    body = {"command": STDIO, "files": FILES}
    status, data = await server.request("POST", "/v1/mcp/servers", json={"name": "first", **body})
    assert status == 201, data
    tools = {t["name"]: t["id"] for t in data["tools"]}
    status, agent = await server.request("POST", "/v1/agents", json={"name": "a", "tool_ids": [tools["add"]]})
    assert status == 201, agent
    status, data = await server.request("DELETE", "/v1/mcp/servers/first")
    assert status == 200, data
    assert not {n for n, s in (await tool_names(server)).items() if s == "first"}
    status, agent = await server.request("GET", f"/v1/agents/{agent['id']}")
    assert "add" not in [t["name"] for t in agent["tools"]]
    # the same program under another name now registers, with the same tool names
    status, data = await server.request("POST", "/v1/mcp/servers", json={"name": "second", **body})
    assert status == 201, data
    assert {t["name"] for t in data["tools"]} >= {"add", "echo"}
    status, data = await server.request("DELETE", "/v1/mcp/servers/second")
    assert status == 200
    # a server whose tool name is taken by a custom tool is refused, and nothing of it stays
    await register(server, ECHO_TOOL, "echo")
    status, data = await server.request("POST", "/v1/mcp/servers", json={"name": "third", **body})
    assert status == 409, data
    status, listed = await server.request("GET", "/v1/mcp/servers")
    assert [s["name"] for s in listed["data"]] == []
    names = await tool_names(server)
    assert names == {"echo": None}
