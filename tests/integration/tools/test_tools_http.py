"""POST /v1/tools/{id}/run (a tool run without a turn, with every detail of how it ended) and GET /v1/sandbox,
over real HTTP, with and without an API key."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.agent.conftest import Running, start_server
from tests.integration.tools.mcp_files import FILES, STDIO
from voice_letta.config import SandboxSettings
from voice_letta.server import keys
from voice_letta.server.keys import CONFIG

TOOLS = '''
import time


def greet(name: str, times: int = 1) -> str:
    """Greets someone.

    Args:
        name: who
        times: how often
    """
    print("greeting", name)
    return " ".join([f"hi {name}"] * times)


def boom(reason: str) -> str:
    raise ValueError(reason)


def spin(seconds: float) -> str:
    time.sleep(seconds)
    return "woke up"


def hog(mb: int) -> int:
    blocks = []
    while True:
        blocks.append(bytearray(mb << 20))
'''


@pytest.fixture
async def server(tmp_path: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[Running]:
    running, runner = await start_server(tmp_path, fake_openai, api_key=None, enable_sandbox=True,
                                         sandbox=SandboxSettings(memory_mb=128, timeout_s=30))
    try:
        yield running
    finally:
        await runner.cleanup()


@pytest.fixture
async def keyed(tmp_path: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[Running]:
    running, runner = await start_server(tmp_path, fake_openai, api_key="sk-server", enable_sandbox=True)
    try:
        yield running
    finally:
        await runner.cleanup()


async def register(server: Running, name: str, **options: Any) -> dict[str, Any]:
    status, tool = await server.request("POST", "/v1/tools", json={"source_type": "python", "source": TOOLS,
                                                                    "name": name, "options": options})
    assert status == 201, tool
    return tool


async def run(server: Running, tool_id: str, **arguments: Any) -> tuple[int, Any]:
    return await server.request("POST", f"/v1/tools/{tool_id}/run", json={"arguments": arguments})


async def test_run_returns_result_captured_output_and_duration(server: Running) -> None:
    tool = await register(server, "greet")
    status, data = await run(server, tool["id"], name="Ada", times=2, pre_exec_msg="One moment.")
    assert status == 200, data
    assert data["tool_id"] == tool["id"] and data["name"] == "greet"
    assert data["outcome"] == "ok" and data["ok"] is True
    assert data["result"] == "hi Ada hi Ada"
    assert data["stdout"] == "greeting Ada\n" and data["stderr"] == ""
    assert data["error"] is None
    assert data["truncated"] == {"stdout": False, "stderr": False, "result": False}
    assert data["duration_ms"] > 0


async def test_run_reports_each_way_a_call_can_end(server: Running) -> None:
    status, data = await run(server, (await register(server, "boom"))["id"], reason="no such order")
    assert status == 200 and data["outcome"] == "error"
    assert data["error"]["type"] == "ValueError" and data["error"]["message"] == "no such order"

    status, data = await run(server, (await register(server, "spin", timeout_s=1))["id"], seconds=20)
    assert status == 200 and data["outcome"] == "timeout"
    assert data["error"]["type"] == "Timeout"
    assert 900 <= data["duration_ms"] < 10_000

    status, data = await run(server, (await register(server, "hog", timeout_s=20))["id"], mb=16)
    assert status == 200 and data["outcome"] == "memory"
    assert data["error"]["type"] == "MemoryLimitExceeded"


async def test_run_caps_the_tool_timeout_at_the_server_ceiling(
    tmp_path: Path, fake_openai: FakeOpenAIServer
) -> None:
    running, runner = await start_server(tmp_path, fake_openai, api_key=None, enable_sandbox=True,
                                         sandbox=SandboxSettings(timeout_s=1))
    try:
        tool = await register(running, "spin", timeout_s=120)
        status, data = await run(running, tool["id"], seconds=30)
        assert status == 200 and data["outcome"] == "timeout"
        assert data["duration_ms"] < 10_000
    finally:
        await runner.cleanup()


async def test_run_rejects_arguments_that_do_not_fit_and_unknown_tools(server: Running) -> None:
    tool = await register(server, "greet")
    status, data = await run(server, tool["id"], times=2)
    assert status == 400 and data["error"]["code"] == "invalid_arguments"
    status, data = await server.request("POST", f"/v1/tools/{tool['id']}/run", json={"args": {}})
    assert status == 400
    status, data = await run(server, "tool-does-not-exist", name="x")
    assert status == 404


@pytest.mark.skipif(shutil.which("node") is None, reason="TypeScript tools need Node.js")
async def test_run_typescript_tool(server: Running) -> None:
    source = "/** Adds. */\nexport function add(a: number, b: number): number { console.log('adding'); return a + b; }"
    status, tool = await server.request("POST", "/v1/tools", json={"source_type": "typescript", "source": source,
                                                                    "options": {"timeout_s": 20}})
    assert status == 201, tool
    status, data = await run(server, tool["id"], a=2, b=40)
    assert status == 200 and data["outcome"] == "ok" and data["result"] == 42
    assert data["stdout"] == "adding\n"


async def test_run_is_a_code_route_guarded_like_tool_registration(
    keyed: Running, tmp_path: Path, fake_openai: FakeOpenAIServer
) -> None:
    tool = await register(keyed, "greet")
    url = f"{keyed.url}/v1/tools/{tool['id']}/run"

    async with aiohttp.ClientSession() as s:
        async with s.post(url, json={"arguments": {"name": "x"}}) as r:
            assert r.status == 401
        async with s.post(url, json={"arguments": {"name": "x"}}, headers={"Authorization": "Bearer wrong"}) as r:
            assert r.status == 401
        async with s.post(url, json={"arguments": {"name": "x"}}, headers={"Authorization": "Bearer sk-server"}) as r:
            assert r.status == 200 and (await r.json())["result"] == "hi x"
        async with s.get(f"{keyed.url}/v1/sandbox") as r:
            assert r.status == 401

    open_server, runner = await start_server(tmp_path / "open", fake_openai, api_key=None, enable_sandbox=True)
    try:
        open_tool = await register(open_server, "greet")
        url = f"{open_server.url}/v1/tools/{open_tool['id']}/run"
        async with aiohttp.ClientSession() as s:
            # without a key a page must not run code, even one on the server's own origin
            async with s.post(url, json={"arguments": {"name": "x"}}, headers={"Origin": open_server.url}) as r:
                assert r.status == 403
            async with s.post(url, json={"arguments": {"name": "x"}}) as r:  # curl, the CLI
                assert r.status == 200
    finally:
        await runner.cleanup()

    off, runner = await start_server(tmp_path / "off", fake_openai, api_key=None, enable_sandbox=True,
                                     admin_api=False)
    try:
        status, data = await off.request("POST", "/v1/tools/anything/run", json={"arguments": {}})
        assert status == 403 and data["error"]["code"] == "admin_api_disabled"
    finally:
        await runner.cleanup()


async def test_sandbox_status_shows_settings_and_the_isolation_in_force(keyed: Running) -> None:
    status, data = await keyed.request("GET", "/v1/sandbox")
    assert status == 200, data
    assert data["enabled"] is True and data["running"] is True
    assert data["isolation"]["level"] in ("basic", "standard", "strict")
    assert {"memory_mb", "disk_mb", "timeout_s", "hidden_paths", "allow_private", "warm"} <= set(data)
    assert str(keyed.app[CONFIG].db_path.parent) in data["hidden_paths"]  # the database is never visible


async def test_mcp_stdio_servers_registered_over_rest_are_sandboxed_and_runnable(server: Running) -> None:
    body = {"name": "echo", "command": STDIO, "files": FILES}
    status, data = await server.request("POST", "/v1/mcp/servers", json={**body, "trusted": True})
    assert status == 400  # trust is the operator's word (serve --trust-mcp), never a request's
    status, data = await server.request("POST", "/v1/mcp/servers", json=body)
    assert status == 201, data
    assert data["sandboxed"] is True
    add = next(t for t in data["tools"] if t["name"] == "add")
    status, listed = await server.request("GET", "/v1/mcp/servers")
    assert listed["data"][0]["sandboxed"] is True and listed["data"][0]["files"] == FILES
    status, ran = await run(server, add["id"], a=2, b=40)
    assert status == 200 and ran["outcome"] == "ok" and ran["result"] == "42"
    status, ran = await run(server, add["id"], a="two", b=40)
    assert status == 400


async def test_an_operator_trusted_mcp_server_runs_unsandboxed(tmp_path: Path, fake_openai: FakeOpenAIServer) -> None:
    running, runner = await start_server(tmp_path, fake_openai, api_key=None, enable_sandbox=True,
                                         sandbox=SandboxSettings(trusted_mcp=["echo"]))
    try:
        status, data = await running.request("POST", "/v1/mcp/servers", json={
            "name": "echo", "command": STDIO})
        assert status == 201 and data["sandboxed"] is False
    finally:
        await runner.cleanup()


def _ancestors(pid: int) -> list[int]:
    chain = []
    while pid > 1:
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            break
        chain.append(pid)
    return chain


def _warm_nodes(tool_server: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if b"runner.mjs" in f.read() and tool_server in _ancestors(int(entry)):
                        found.append(int(entry))
            except OSError:
                pass
    return found


@pytest.mark.skipif(shutil.which("node") is None, reason="TypeScript tools need Node.js")
async def test_a_restarted_server_prewarms_the_runtimes_its_tools_use(
    tmp_path: Path, fake_openai: FakeOpenAIServer
) -> None:
    running, runner = await start_server(tmp_path, fake_openai, api_key=None, enable_sandbox=True)
    status, tool = await running.request("POST", "/v1/tools", json={
        "source_type": "typescript", "source": "export function one(): number { return 1; }"})
    assert status == 201, tool
    await runner.cleanup()

    again, runner = await start_server(tmp_path, fake_openai, api_key=None, enable_sandbox=True)
    try:
        supervisor = again.app[keys.TOOLS].sandbox.supervisor  # type: ignore[union-attr]
        assert supervisor.pid is not None
        for _ in range(300):  # a node waiting for the first call, started before any call was made
            if _warm_nodes(supervisor.pid):
                break
            await asyncio.sleep(0.05)
        assert _warm_nodes(supervisor.pid)
        status, data = await run(again, tool["id"])
        assert status == 200 and data["result"] == 1
    finally:
        await runner.cleanup()
