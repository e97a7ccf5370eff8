"""MCP servers over stdio and streamable HTTP: discovery, calls, reconnection after the server dies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from voice_letta.agent.models import ToolType
from voice_letta.errors import NotFoundError, ToolError
from voice_letta.tools_runtime import McpExecutor, McpManager, ToolService

SERVER = Path(__file__).resolve().parents[2] / "fakes_mcp" / "echo_server.py"
STDIO = [sys.executable, str(SERVER), "stdio"]


async def _pid(manager: McpManager, server: str) -> int:
    result = await manager.call_tool(server, "whoami", {})
    return int(result.structured_content["result"])


async def _start_http(port: int, mode: str = "http") -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SERVER),
        mode,
        str(port),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    for _ in range(200):
        with contextlib.suppress(OSError):
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return proc
        await asyncio.sleep(0.05)
    proc.kill()
    raise RuntimeError("MCP HTTP server did not start")


async def _stop(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    await proc.wait()


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[McpManager]:
    m = McpManager(registry_path=tmp_path / "mcp.json")
    yield m
    await m.aclose()


async def test_stdio_server_tools_are_discovered_and_called(service: ToolService) -> None:
    tools = await service.add_mcp_server("echo", command=STDIO)
    by_name = {t.name: t for t in tools}
    assert set(by_name) == {"add", "echo", "whoami", "fail"}
    add = by_name["add"]
    assert add.type is ToolType.EXTERNAL_MCP and add.mcp_server == "echo"
    assert add.parameters["required"] == ["a", "b"]
    assert (await service.store.get_tool(add.id)).name == "add"  # persisted

    executor = service.executor_for(add)
    assert isinstance(executor, McpExecutor)
    result = await executor.execute(add, {"a": 2, "b": 40, "pre_exec_msg": "One moment."})
    assert result.ok and result.output == "42"
    failed = await executor.execute(by_name["fail"], {"reason": "nope"})
    assert not failed.ok and failed.error == "McpToolError"
    invalid = await executor.execute(add, {"a": "two"})
    assert not invalid.ok and invalid.error == "invalid_arguments"


async def test_killed_stdio_server_is_reconnected_and_call_works(manager: McpManager) -> None:
    tools = await manager.add_server("echo", command=STDIO)
    echo = next(t for t in tools if t.name == "echo")
    pid = await _pid(manager, "echo")
    os.kill(pid, signal.SIGKILL)
    await asyncio.sleep(0.2)
    result = await McpExecutor(manager).execute(echo, {"text": "back", "shout": True})
    assert result.ok, result
    assert result.output == "BACK"
    assert manager.reconnects >= 1
    assert await _pid(manager, "echo") != pid


async def test_streamable_http_server_discovered_called_and_reconnected(
    manager: McpManager, unused_tcp_port: int
) -> None:
    url = f"http://127.0.0.1:{unused_tcp_port}/mcp"
    proc = await _start_http(unused_tcp_port)
    try:
        tools = await manager.add_server("web", url=url)
        add = next(t for t in tools if t.name == "add")
        executor = McpExecutor(manager)
        assert (await executor.execute(add, {"a": 1, "b": 2})).output == "3"
        await _stop(proc)
        proc = await _start_http(unused_tcp_port)  # a new server process: the old session is gone
        result = await executor.execute(add, {"a": 5, "b": 5})
        assert result.ok, result
        assert result.output == "10"
    finally:
        await _stop(proc)


async def test_sse_server_tools_are_discovered_and_called(manager: McpManager, unused_tcp_port: int) -> None:
    proc = await _start_http(unused_tcp_port, "sse")
    try:
        tools = await manager.add_server("sse", url=f"http://127.0.0.1:{unused_tcp_port}/sse", transport="sse")
        echo = next(t for t in tools if t.name == "echo")
        result = await McpExecutor(manager).execute(echo, {"text": "hi"})
        assert result.ok and result.output == "hi"
    finally:
        await _stop(proc)


async def test_servers_are_listed_removed_and_persisted(manager: McpManager, tmp_path: Path) -> None:
    await manager.add_server("echo", command=STDIO)
    assert [s.name for s in manager.list_servers()] == ["echo"]
    saved = json.loads((tmp_path / "mcp.json").read_text())
    assert saved["servers"][0]["command"] == STDIO
    with pytest.raises(ToolError):
        await manager.add_server("echo", command=STDIO)

    again = McpManager(registry_path=tmp_path / "mcp.json")
    try:
        tools = await again.load()
        assert {t.name for t in tools} == {"add", "echo", "whoami", "fail"}
    finally:
        await again.aclose()

    await manager.remove_server("echo")
    assert manager.list_servers() == []
    assert json.loads((tmp_path / "mcp.json").read_text())["servers"] == []
    with pytest.raises(NotFoundError):
        await manager.call_tool("echo", "add", {"a": 1, "b": 2})


async def test_unreachable_server_is_a_clean_registration_error(manager: McpManager, unused_tcp_port: int) -> None:
    with pytest.raises(ToolError) as err:
        await manager.add_server("down", url=f"http://127.0.0.1:{unused_tcp_port}/mcp")
    assert err.value.code == "mcp_unavailable"
    with pytest.raises(ToolError):
        await manager.add_server("bad", command=None, url=None)
    assert manager.list_servers() == []
