"""Custom tools run in the sandbox tool server: results, escape attempts, limits, and server crashes."""

from __future__ import annotations

import json
import os
import signal
import uuid
from pathlib import Path

import pytest

from voice_letta.agent.models import ToolOptions
from voice_letta.tools_runtime import SandboxExecutor, SandboxSupervisor, ToolService

REPO = Path(__file__).resolve().parents[3]

ESCAPES = '''
import os


def read_secret(server_pid: int) -> dict:
    """Try to read the server's secret from our environment and from the server's /proc entry."""
    seen = {"env": os.environ.get("VOICE_LETTA_TEST_SECRET"), "keys": sorted(os.environ)}
    try:
        with open(f"/proc/{server_pid}/environ", "rb") as f:
            seen["proc"] = "VOICE_LETTA_TEST_SECRET" in f.read().decode(errors="replace")
    except OSError as exc:
        seen["proc"] = type(exc).__name__
    return seen


def write_file(path: str) -> str:
    with open(path, "w") as f:
        f.write("escaped")
    return "wrote " + path


def spin(seconds: int = 0) -> str:
    while True:
        pass


def hog() -> int:
    blocks = []
    while True:
        blocks.append(bytearray(16 * 1024 * 1024))


def shout(n: int) -> str:
    print("x" * n)
    return "r" * n


def cwd() -> dict:
    open("scratch.txt", "w").write("ok")
    return {"cwd": os.getcwd(), "uid": os.getuid(), "files": sorted(os.listdir("."))}


def dial(host: str, port: int) -> str:
    import socket

    socket.create_connection((host, port), timeout=2).close()
    return "connected"
'''


async def _escapes(service: ToolService, name: str, **options: object):
    return await service.register_python(ESCAPES, name=name, options=ToolOptions(**options))  # type: ignore[arg-type]


async def test_python_tool_registered_from_source_returns_structured_result(
    service: ToolService, executor: SandboxExecutor
) -> None:
    source = '''
def forecast(city: str, days: int = 1) -> dict:
    """Weather forecast.

    Args:
        city: the city name
        days: how many days
    """
    print("looking up", city)
    return {"city": city, "days": days, "sky": "clear"}
'''
    tool = await service.register_python(source)
    assert tool.name == "forecast"
    assert tool.parameters["required"] == ["city"]
    assert tool.parameters["properties"]["city"]["description"] == "the city name"
    result = await executor.execute(tool, {"city": "Oslo", "pre_exec_msg": "Let me check."})
    assert result.ok, result
    assert result.output == '{"city":"Oslo","days":1,"sky":"clear"}'
    assert result.duration_ms > 0


async def test_tool_exception_and_bad_arguments_are_clean_errors(
    service: ToolService, executor: SandboxExecutor
) -> None:
    tool = await service.register_python("def boom(x: int) -> int:\n    raise ValueError(f'bad {x}')\n")
    result = await executor.execute(tool, {"x": 3})
    assert not result.ok
    assert result.error == "ValueError"
    assert "bad 3" in result.output
    invalid = await executor.execute(tool, {"x": "three"})
    assert not invalid.ok and invalid.error == "invalid_arguments"


async def test_typescript_tool_registered_from_source_returns_structured_result(
    service: ToolService, executor: SandboxExecutor
) -> None:
    source = """
/**
 * Greets someone.
 * @param name - who to greet
 * @param times how often
 */
export function greet(name: string, times: number = 1): { text: string } {
  console.log("greeting", name);
  return { text: Array(times).fill(`hi ${name}`).join(" ") };
}
"""
    tool = await service.register_typescript(source)
    assert tool.source_type == "typescript"
    assert tool.description == "Greets someone."
    assert tool.parameters["required"] == ["name"]
    result = await executor.execute(tool, {"name": "Ada", "times": 2})
    assert result.ok, result
    assert result.output == '{"text":"hi Ada hi Ada"}'


async def test_typescript_tool_with_given_schema_gets_arguments_in_parameter_order(
    service: ToolService, executor: SandboxExecutor
) -> None:
    schema = {
        "type": "object",
        "properties": {"b": {"type": "number"}, "a": {"type": "number"}},
        "required": ["a", "b"],
    }
    tool = await service.register_typescript(
        "export const minus = (a: number, b: number) => a - b;", schema, description="a minus b"
    )
    result = await executor.execute(tool, {"a": 10, "b": 3})
    assert result.ok and result.output == "7"


async def test_tool_cannot_see_server_secret(
    service: ToolService, executor: SandboxExecutor, supervisor: SandboxSupervisor
) -> None:
    assert os.environ["VOICE_LETTA_TEST_SECRET"]
    tool = await _escapes(service, "read_secret", env={"ALLOWED": "yes"})
    result = await executor.execute(tool, {"server_pid": os.getpid()})
    assert result.ok, result
    assert "s3cr3t" not in result.output
    assert '"env":null' in result.output
    assert '"keys":["ALLOWED","HOME","LANG","MALLOC_ARENA_MAX","PATH","TMPDIR"]' in result.output
    if supervisor.isolation.get("pid_namespace"):  # the server's pid does not exist in the call's namespace
        assert '"proc":"FileNotFoundError"' in result.output
    elif os.geteuid() == 0:  # dropped to an unprivileged uid: /proc/<server>/environ is not readable
        assert '"proc":"PermissionError"' in result.output


async def test_tool_runs_in_fresh_private_cwd_and_cannot_write_outside(
    service: ToolService, executor: SandboxExecutor, supervisor: SandboxSupervisor
) -> None:
    cwd_tool = await _escapes(service, "cwd")
    first = await executor.execute(cwd_tool, {})
    second = await executor.execute(cwd_tool, {})
    assert first.ok and second.ok
    assert '"files":["scratch.txt","tool_module.py"]' in first.output  # fresh each call
    a, b = json.loads(first.output), json.loads(second.output)
    assert a["cwd"] == b["cwd"] and a["files"] == b["files"]
    assert a["uid"] != 0 and b["uid"] != 0
    assert not any(supervisor.work_root.glob("call-*"))  # deleted after each call

    write = await _escapes(service, "write_file")
    marker = f"escape-{uuid.uuid4().hex}"
    repo_target = REPO / marker
    result = await executor.execute(write, {"path": str(repo_target)})
    assert not repo_target.exists()
    if supervisor.isolation.get("drop_user"):
        # PermissionError where the repo is visible read-only; FileNotFoundError when the checkout itself
        # lives under /tmp, which the sandbox replaces with a private tmpfs (CI clones there).
        assert not result.ok and result.error in ("PermissionError", "FileNotFoundError")
    tmp_target = Path("/tmp") / marker
    await executor.execute(write, {"path": str(tmp_target)})
    if supervisor.isolation.get("mount_namespace"):
        assert not tmp_target.exists()  # /tmp is a private tmpfs that dies with the call


async def test_infinite_loop_times_out_and_sandbox_keeps_serving(
    service: ToolService, executor: SandboxExecutor
) -> None:
    spin = await _escapes(service, "spin", timeout_s=1.0)
    result = await executor.execute(spin, {})
    assert not result.ok and result.error == "Timeout"
    assert 900 <= result.duration_ms < 5000
    ok = await executor.execute(await _escapes(service, "cwd"), {})
    assert ok.ok


async def test_memory_exhaustion_is_stopped_by_the_limit(service: ToolService, executor: SandboxExecutor) -> None:
    hog = await _escapes(service, "hog", timeout_s=10.0)
    result = await executor.execute(hog, {})
    assert not result.ok
    assert result.error == "MemoryLimitExceeded"
    assert (await executor.execute(await _escapes(service, "cwd"), {})).ok


async def test_typescript_memory_exhaustion_is_stopped(service: ToolService, executor: SandboxExecutor) -> None:
    source = "export function hog(): number { const a: number[][] = []; for (;;) a.push(new Array(1e6).fill(1)); }"
    tool = await service.register_typescript(source, options=ToolOptions(timeout_s=20))
    result = await executor.execute(tool, {})
    assert not result.ok and result.error == "MemoryLimitExceeded"


async def test_typescript_infinite_loop_times_out(service: ToolService, executor: SandboxExecutor) -> None:
    tool = await service.register_typescript(
        "export function spin(): void { for (;;) {} }", options=ToolOptions(timeout_s=1)
    )
    result = await executor.execute(tool, {})
    assert not result.ok and result.error == "Timeout"


async def test_huge_output_and_result_are_truncated_with_a_marker(
    service: ToolService, supervisor: SandboxSupervisor
) -> None:
    small = SandboxExecutor(supervisor, max_output_bytes=1000, max_result_bytes=2000)
    tool = await _escapes(service, "shout")
    request = small.request_for(tool, {"n": 5_000_000}, "big")
    response = await small.call_raw(request, 30)
    assert response["truncated"] == {"stdout": True, "stderr": False, "result": True}
    assert response["stdout"].startswith("x" * 1000)
    assert "[truncated" in response["stdout"]
    assert len(response["stdout"]) < 1100
    result = await small.execute(tool, {"n": 5_000_000})
    assert result.ok and "[truncated" in result.output and len(result.output) < 2100


async def test_network_is_unreachable_inside_the_sandbox(
    service: ToolService, executor: SandboxExecutor, supervisor: SandboxSupervisor, unused_tcp_port: int
) -> None:
    if not supervisor.isolation.get("network_namespace"):
        pytest.skip("network namespaces are not available here")
    import asyncio

    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", unused_tcp_port)
    async with server:
        tool = await _escapes(service, "dial")
        result = await executor.execute(tool, {"host": "127.0.0.1", "port": unused_tcp_port})
    assert not result.ok
    assert result.error in {"ConnectionRefusedError", "OSError", "TimeoutError"}


async def test_tool_server_crash_is_restarted_and_next_call_works(
    service: ToolService, executor: SandboxExecutor, supervisor: SandboxSupervisor
) -> None:
    tool = await _escapes(service, "cwd")
    assert (await executor.execute(tool, {})).ok  # leaves an idle connection behind
    old_pid = supervisor.pid
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    # the idle connection's monitor outlives the tool server and still serves calls
    assert (await executor.execute(tool, {})).ok
    await executor.aclose()  # no idle connection: the next call needs the restarted tool server
    result = await executor.execute(tool, {})
    assert result.ok, result
    assert supervisor.restarts == 1
    assert supervisor.pid not in (None, old_pid)


async def test_malformed_typescript_is_rejected_at_registration_with_line_numbers(service: ToolService) -> None:
    from voice_letta.errors import ToolError

    with pytest.raises(ToolError, match="line 2, column"):
        await service.register_typescript("export function f(a: number) {\n  return (a + ;\n}\n")
    with pytest.raises(ToolError, match="do not match the parameters"):
        await service.register_typescript(
            "export function f(a: number) { return a }", {"type": "object", "properties": {"b": {"type": "number"}}}
        )
    with pytest.raises(ToolError, match="several exported functions"):
        await service.register_typescript("export function f() {}\nexport function g() {}\n")
    assert await service.store.list_tools() == []


def test_tool_server_dies_with_a_server_killed_by_sigkill(tmp_path: Path) -> None:
    """A crashed server runs no cleanup: its tool server must notice and exit on its own (no orphans)."""
    import json
    import subprocess
    import sys
    import time

    sandbox = Path(__file__).resolve().parents[3] / "sandbox" / "tool_server.py"
    sock = tmp_path / "tools.sock"
    parent_code = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-E', '-s', {str(sandbox)!r}, '--socket', {str(sock)!r},"
        f" '--work-root', {str(tmp_path / 'work')!r}], stdout=subprocess.PIPE, start_new_session=True)\n"
        "sys.stdout.write(p.stdout.readline().decode()); sys.stdout.flush()\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        ready = json.loads(parent.stdout.readline())
        assert ready["event"] == "ready" and sock.exists()
        child = int(ready["pid"])
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            with open(f"/proc/{child}/stat") as f:  # an exited child of init may linger as a zombie briefly
                if f.read().split(")")[-1].split()[0] == "Z":
                    break
            time.sleep(0.05)
        else:
            os.kill(child, signal.SIGKILL)
            raise AssertionError("the tool server outlived its server")
        assert not sock.exists()  # it cleaned up its socket on the way out
    finally:
        if parent.poll() is None:
            parent.kill()


async def test_calls_after_an_idle_pause_run_in_warm_sandboxes(service: ToolService, executor: SandboxExecutor) -> None:
    """After a pause the connection's monitor has a sandbox (node itself, for TypeScript) waiting for the next call;
    such a call runs to its answer and its sandbox ends with it, like any other call."""
    import asyncio

    ts = await service.register_typescript("export function twice(n: number): number { return 2 * n; }",
                                           options=ToolOptions(timeout_s=20))
    py = await service.register_python("def thrice(n: int) -> int:\n    return 3 * n\n")
    for n in range(3):
        assert (await executor.execute(ts, {"n": n})).output == str(2 * n)
        assert (await executor.execute(py, {"n": n})).output == str(3 * n)
        await asyncio.sleep(1.0)


async def test_ping_and_bad_requests_get_typed_answers(
    executor: SandboxExecutor, supervisor: SandboxSupervisor
) -> None:
    pong = await executor.call_raw({"v": 2, "op": "ping", "id": "p"}, 10)
    assert pong["ok"] and pong["id"] == "p" and pong["result"]["pid"] == supervisor.pid
    assert pong["result"]["isolation"]["level"] == supervisor.isolation["level"]
    for request, kind in (({"v": 2, "op": "dance", "id": "x"}, "BadRequest"),
                          ({"v": 1, "op": "ping", "id": "x"}, "UnsupportedVersion"),
                          ({"v": 2, "op": "call", "id": "x", "runtime": "cobol", "source": "", "entrypoint": "f"},
                           "BadRequest"),
                          ({"v": 2, "op": "call", "id": "x", "runtime": "python", "source": "def f(): pass",
                            "entrypoint": "f", "network": {"allow": ["no port"]}}, "BadRequest")):
        answer = await executor.call_raw(request, 10)
        assert not answer["ok"] and answer["error"]["type"] == kind, answer
