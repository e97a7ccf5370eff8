"""MCP servers over stdio (in the tool sandbox, or trusted) and streamable HTTP: discovery, calls, reconnection
after the server dies, and what a sandboxed stdio server can and cannot reach."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.integration.tools.mcp_files import FILES, SERVER, STDIO
from voice_letta.agent.models import ToolType
from voice_letta.errors import NotFoundError, ToolError
from voice_letta.tools_runtime import McpExecutor, McpManager, SandboxSupervisor, ToolService
from voice_letta.tools_runtime.mcp_sandbox import McpSandbox


def _host_pids(mark: str) -> list[int]:
    """Host pids of the MCP server processes started with VL_TEST_MARK=mark (sandboxed or not)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/environ", "rb") as f:
                if f"VL_TEST_MARK={mark}".encode() in f.read():
                    found.append(int(entry))
    return found


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
async def manager(tmp_path: Path, supervisor: SandboxSupervisor) -> AsyncIterator[McpManager]:
    m = McpManager(registry_path=tmp_path / "mcp.json", sandbox=McpSandbox.of(supervisor))
    yield m
    await m.aclose()


@pytest.fixture
async def trusting(tmp_path: Path) -> AsyncIterator[McpManager]:
    """No sandbox at all; the operator trusts the server named "echo"."""
    m = McpManager(registry_path=tmp_path / "trusted.json", trusted={"echo"})
    yield m
    await m.aclose()


async def test_stdio_server_tools_are_discovered_and_called(service: ToolService) -> None:
    tools = await service.add_mcp_server("echo", command=STDIO, files=FILES)
    by_name = {t.name: t for t in tools}
    assert set(by_name) == {"add", "echo", "whoami", "fail", "probe"}
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


@pytest.fixture(params=["sandboxed", "trusted"])
async def either(request: pytest.FixtureRequest, tmp_path: Path, supervisor: SandboxSupervisor
                 ) -> AsyncIterator[McpManager]:
    if request.param == "sandboxed":
        m = McpManager(registry_path=tmp_path / "mcp.json", sandbox=McpSandbox.of(supervisor))
    else:
        m = McpManager(registry_path=tmp_path / "mcp.json", trusted={"echo"})
    yield m
    await m.aclose()


async def test_killed_stdio_server_is_reconnected_and_call_works(either: McpManager) -> None:
    manager = either
    mark = uuid.uuid4().hex
    tools = await manager.add_server("echo", command=STDIO, files=FILES, env={"VL_TEST_MARK": mark})
    echo = next(t for t in tools if t.name == "echo")
    [pid] = _host_pids(mark)
    os.kill(pid, signal.SIGKILL)
    await asyncio.sleep(0.2)
    result = await McpExecutor(manager).execute(echo, {"text": "back", "shout": True})
    assert result.ok, result
    assert result.output == "BACK"
    assert manager.reconnects >= 1
    assert _host_pids(mark) not in ([], [pid])
    await manager.aclose()
    for _ in range(100):  # the session is over: its server process is gone too
        if not _host_pids(mark):
            break
        await asyncio.sleep(0.05)
    assert _host_pids(mark) == []


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


async def test_servers_are_listed_removed_and_persisted(
    manager: McpManager, tmp_path: Path, supervisor: SandboxSupervisor
) -> None:
    await manager.add_server("echo", command=STDIO, files=FILES)
    assert [s.name for s in manager.list_servers()] == ["echo"]
    saved = json.loads((tmp_path / "mcp.json").read_text())
    assert saved["servers"][0]["command"] == STDIO
    with pytest.raises(ToolError):
        await manager.add_server("echo", command=STDIO, files=FILES)

    assert saved["servers"][0]["files"] == FILES
    again = McpManager(registry_path=tmp_path / "mcp.json", sandbox=McpSandbox.of(supervisor))
    try:
        tools = await again.load()
        assert {t.name for t in tools} == {"add", "echo", "whoami", "fail", "probe"}
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


@pytest.fixture
def host_file() -> Iterator[Path]:
    base = Path("/srv") / f"vl-mcp-{uuid.uuid4().hex[:12]}"
    base.mkdir(parents=True, mode=0o755)
    target = base / "config.env"
    target.write_text("DB_PASSWORD=hunter2\n")
    os.chmod(target, 0o644)
    yield target
    shutil.rmtree(base, ignore_errors=True)


async def _listener() -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_sandboxed_stdio_server_gets_no_environment_host_files_or_network(
    manager: McpManager, supervisor: SandboxSupervisor, host_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if supervisor.isolation.get("level") != "strict":
        pytest.skip(f"isolation level here: {supervisor.isolation.get('level')}")
    monkeypatch.setenv("VOICE_LETTA_MCP_SECRET", "s3cr3t")  # in the server process only
    listener, port = await _listener()
    async with listener:
        await manager.add_server("echo", command=STDIO, files=FILES, env={"GREETING": "hi"})
        result = await manager.call_tool("echo", "probe", {"path": str(host_file), "host": "127.0.0.1", "port": port})
    seen = json.loads(result.content[0].text)
    assert seen["env"] == ["GREETING", "HOME", "LANG", "MALLOC_ARENA_MAX", "PATH", "TMPDIR"]
    assert seen["file"] == "FileNotFoundError"
    assert seen["dial"] == "ConnectionRefusedError"  # the sandbox's own loopback, where nothing listens
    assert seen["uid"] != 0
    assert not {"srv", "home", "mnt", "opt"} & set(seen["root"])
    assert manager.is_sandboxed("echo")


async def test_trusted_stdio_server_runs_as_the_server_user(trusting: McpManager, host_file: Path) -> None:
    listener, port = await _listener()
    async with listener:
        await trusting.add_server("echo", command=STDIO)
        result = await trusting.call_tool("echo", "probe", {"path": str(host_file), "host": "127.0.0.1", "port": port})
    seen = json.loads(result.content[0].text)
    assert seen["file"] == "DB_PASSWORD=hunter2\n" and seen["dial"] == "connected"
    assert seen["uid"] == os.getuid()
    assert not trusting.is_sandboxed("echo")


async def test_stdio_server_is_refused_without_a_sandbox_unless_trusted(tmp_path: Path) -> None:
    bare = McpManager(registry_path=tmp_path / "bare.json")
    try:
        with pytest.raises(ToolError, match="--trust-mcp echo") as err:
            await bare.add_server("echo", command=STDIO)
        assert err.value.code == "mcp_unavailable"
        assert bare.list_servers() == []
    finally:
        await bare.aclose()


async def test_a_request_cannot_expose_files_other_users_could_not_read(manager: McpManager) -> None:
    private = Path(tempfile.mkdtemp(prefix="vl-private-", dir="/tmp"))  # 0700, like a home directory
    try:
        (private / "notes.txt").write_text("private")
        os.chmod(private / "notes.txt", 0o644)  # readable by all, but inside a directory only root can enter
        with pytest.raises(ToolError, match="not readable by every user"):
            await manager.add_server("echo", command=STDIO, files=[*FILES, str(private / "notes.txt")])
    finally:
        shutil.rmtree(private, ignore_errors=True)
