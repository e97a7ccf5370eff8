"""The attacks of issue 10 against the tool sandbox, each run for real: every one of them got through the sandbox
before PID namespaces, per-call uids, the minimal root, the tmpfs quota and seccomp (docs/sandbox.md)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from voice_letta.agent.models import Tool, ToolOptions
from voice_letta.config import SandboxSettings
from voice_letta.tools_runtime import SandboxExecutor, SandboxSupervisor, ToolService

DISK_MB = 16

ATTACKS = '''
import ctypes
import errno
import os
import socket
import time


def leave_orphan(marker: str) -> int:
    """Double fork + setsid: a grandchild in its own session, named ``marker``, meant to outlive the call."""
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            with open("/proc/self/comm", "w") as f:
                f.write(marker)
            time.sleep(120)
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def hold_secret(seconds: float) -> dict:
    """Sit on a secret (in the environment and in the arguments) for a while."""
    time.sleep(seconds)
    return {"uid": os.getuid(), "pid": os.getpid()}


def snoop(secret: str) -> dict:
    """Read every process's environ, cmdline and working directory that this call can see."""
    found, seen = [], []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        seen.append(int(entry))
        for name in ("environ", "cmdline"):
            try:
                with open(f"/proc/{entry}/{name}", "rb") as f:
                    if secret.encode() in f.read():
                        found.append(f"{entry}/{name}")
            except OSError:
                pass
        try:
            for name in os.listdir(f"/proc/{entry}/cwd"):
                with open(f"/proc/{entry}/cwd/{name}", "rb") as f:
                    if secret.encode() in f.read():
                        found.append(f"{entry}/cwd/{name}")
        except OSError:
            pass
    return {"found": found, "pids": sorted(seen), "uid": os.getuid()}


def fill_disk(files: int) -> dict:
    """Write 1 MiB files round-robin into every writable place until the disk says no."""
    places = [".", "/tmp", "/var/tmp", "/dev/shm", "/run/lock"]
    written, error = 0, None
    block = b"x" * (1 << 20)
    try:
        for i in range(files):
            with open(os.path.join(places[i % len(places)], f"fill-{i}"), "wb") as f:
                f.write(block)
            written += 1
    except OSError as exc:
        error = exc.errno
    return {"written_mb": written, "errno": error}


def touch(path: str) -> str:
    with open(path, "w") as f:
        f.write("left behind")
    return path


def listdir(path: str) -> list:
    return sorted(os.listdir(path))


def reach(path: str, sock_path: str, abstract: str) -> dict:
    """Read a world-readable host file, connect to a 0777 host Unix socket and to an abstract one."""
    out = {"root": sorted(os.listdir("/"))}
    try:
        with open(path) as f:
            out["file"] = f.read()
    except OSError as exc:
        out["file"] = type(exc).__name__
    for key, address in (("socket", sock_path), ("abstract", "\\0" + abstract)):
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(address)
            out[key] = "connected"
        except OSError as exc:
            out[key] = type(exc).__name__
        finally:
            s.close()
    return out


def kernel_surface() -> dict:
    """Try the calls seccomp denies; the errno each one gets (0 = it worked)."""
    libc = ctypes.CDLL(None, use_errno=True)

    def call(*args) -> int:
        ctypes.set_errno(0)
        rc = libc.syscall(*[ctypes.c_long(a) for a in args])
        return 0 if rc >= 0 else ctypes.get_errno()

    out = {}
    import subprocess

    child = subprocess.Popen(["sleep", "30"])  # same uid, dumpable after exec: ptrace would otherwise work
    out["ptrace_attach"] = call(101, 16, child.pid, 0, 0)  # PTRACE_ATTACH
    buf = ctypes.create_string_buffer(8)
    iov = (ctypes.c_void_p * 2)(ctypes.cast(buf, ctypes.c_void_p), 8)
    out["process_vm_readv"] = call(310, child.pid, ctypes.addressof(iov), 1, ctypes.addressof(iov), 1, 0)
    child.kill()
    child.wait()
    out["unshare_user"] = call(272, 0x10000000)
    out["mount"] = 0 if libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) == 0 else ctypes.get_errno()
    out["bpf"] = call(321, 0, 0, 0)
    out["keyctl"] = call(250, 0, 0, 0, 0, 0)
    out["io_uring_setup"] = call(425, 1, 0)
    out["clone3"] = call(435, 0, 0)
    out["personality_no_aslr"] = call(135, 0x0040000)
    out["personality_query"] = call(135, 0xFFFFFFFF)
    try:
        socket.socket(40, socket.SOCK_STREAM).close()  # AF_VSOCK: not namespaced, reaches a VM's host
        out["vsock"] = 0
    except OSError as exc:
        out["vsock"] = exc.errno
    return out


def hog_in_processes(n: int, mb: int) -> int:
    """n processes, each holding mb MiB: bounded per process by RLIMIT_AS, but only a cgroup bounds the sum."""
    children = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            block = bytearray(mb << 20)
            for i in range(0, len(block), 4096):
                block[i] = 1
            time.sleep(30)
            os._exit(0)
        children.append(pid)
    time.sleep(20)
    return len(children)


def scan_memory(pattern: str) -> list:
    """Every string matching ``pattern`` anywhere in this process's own memory (what it inherited)."""
    import re

    found = set()
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
        for line in maps:
            address, perms = line.split()[:2]
            if "r" not in perms:
                continue
            start, end = (int(a, 16) for a in address.split("-"))
            try:
                mem.seek(start)
                chunk = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            found.update(m.decode() for m in re.findall(pattern.encode(), chunk))
    return sorted(found)


def spin() -> None:
    with open("/proc/self/comm", "w") as f:
        f.write(os.environ["MARKER"])
    while True:
        pass
'''

NODE_ORPHAN = """
import { spawn } from "node:child_process";

/** Starts a detached node that is meant to outlive the call. */
export function leave(marker: string): number {
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 120000)", marker], {
    detached: true,
    stdio: "ignore",
  });
  child.unref();
  return child.pid ?? -1;
}
"""

NODE_SECRET = """
/** Sits on a secret from its environment for a while. */
export async function hold(seconds: number): Promise<number> {
  const secret = process.env.API_TOKEN ?? "";
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return secret.length;
}
"""


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            with open(f"/proc/{entry}/comm", "rb") as f:
                comm = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            if marker.encode() in comm or marker.encode() in cmdline:
                found.append(int(entry))
    return found


def _on_host(path: str) -> bool:
    return os.path.exists(path)


async def _poll(marker: str, *, present: bool, timeout_s: float) -> list[int]:
    """Wait (bounded) until processes carrying ``marker`` exist (``present``) or are all gone."""
    deadline = time.monotonic() + timeout_s
    for _ in range(100_000):
        found = _processes_with(marker)
        if bool(found) == present or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)
    return found


async def _none_left(marker: str, timeout_s: float = 3.0) -> list[int]:
    return await _poll(marker, present=False, timeout_s=timeout_s)


@pytest.fixture
def strict(supervisor: SandboxSupervisor) -> None:
    if supervisor.isolation.get("level") != "strict":
        pytest.skip(f"isolation level here: {supervisor.isolation.get('level')} ({supervisor.isolation.get('notes')})")


@pytest.fixture
async def quota_executor(supervisor: SandboxSupervisor) -> AsyncIterator[SandboxExecutor]:
    ex = SandboxExecutor(supervisor, settings=SandboxSettings(memory_mb=128, disk_mb=DISK_MB))
    yield ex
    await ex.aclose()


async def _tool(service: ToolService, name: str, **options: object) -> Tool:
    return await service.register_python(ATTACKS, name=name, options=ToolOptions(**options))  # type: ignore[arg-type]


async def test_double_fork_and_setsid_leave_no_process_after_the_call(
    strict: None, service: ToolService, executor: SandboxExecutor
) -> None:
    marker = f"vlorph{uuid.uuid4().hex[:8]}"
    result = await executor.execute(await _tool(service, "leave_orphan"), {"marker": marker})
    assert result.ok, result
    assert await _none_left(marker) == []


async def test_detached_node_child_leaves_no_process_after_the_call(
    strict: None, service: ToolService, executor: SandboxExecutor
) -> None:
    marker = f"vl-node-orphan-{uuid.uuid4().hex}"
    tool = await service.register_typescript(NODE_ORPHAN, options=ToolOptions(timeout_s=20))
    result = await executor.execute(tool, {"marker": marker})
    assert result.ok, result
    assert int(result.output) > 0  # it did start
    assert await _none_left(marker) == []


async def test_a_cancelled_call_is_killed_at_once(
    strict: None, service: ToolService, executor: SandboxExecutor
) -> None:
    marker = f"vlspin{uuid.uuid4().hex[:8]}"
    tool = await _tool(service, "spin", timeout_s=60, env={"MARKER": marker})
    task = asyncio.create_task(executor.execute(tool, {}))
    assert await _poll(marker, present=True, timeout_s=20), "the tool never started"
    task.cancel()  # a barge-in cancels the turn; the connection closes and the tool server kills the call
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _none_left(marker) == []


async def test_concurrent_calls_cannot_read_each_others_environment_arguments_or_files(
    strict: None, service: ToolService, executor: SandboxExecutor
) -> None:
    secret = f"tok-{uuid.uuid4().hex}"
    holder = await _tool(service, "hold_secret", env={"API_TOKEN": secret}, timeout_s=30)
    node_holder = await service.register_typescript(NODE_SECRET, options=ToolOptions(env={"API_TOKEN": secret},
                                                                                     timeout_s=30))
    snoop = await _tool(service, "snoop")

    async def snoop_later() -> dict[str, object]:
        await asyncio.sleep(2.0)  # both holders are running by now
        result = await executor.execute(snoop, {"secret": secret})
        assert result.ok, result
        return json.loads(result.output)  # type: ignore[no-any-return]

    held, node_held, seen = await asyncio.gather(
        executor.execute(holder, {"seconds": 5.0}),
        executor.execute(node_holder, {"seconds": 5.0}),
        snoop_later(),
    )
    assert held.ok and node_held.ok, (held, node_held)
    assert seen["found"] == []
    assert seen["pids"] == [1, 2]  # the call's own init and itself: nobody else exists in its namespace
    assert json.loads(held.output)["uid"] != seen["uid"]


async def test_disk_quota_bounds_all_writable_places_together(
    strict: None, service: ToolService, quota_executor: SandboxExecutor
) -> None:
    result = await quota_executor.execute(await _tool(service, "fill_disk", timeout_s=30), {"files": 200})
    assert result.ok, result
    filled = json.loads(result.output)
    assert filled["errno"] == 28  # ENOSPC
    assert filled["written_mb"] <= DISK_MB


async def test_run_lock_is_private_to_each_call(
    strict: None, service: ToolService, executor: SandboxExecutor
) -> None:
    name = f"vl-lock-{uuid.uuid4().hex}"
    wrote = await executor.execute(await _tool(service, "touch"), {"path": f"/run/lock/{name}"})
    assert wrote.ok, wrote
    later = await executor.execute(await _tool(service, "listdir"), {"path": "/run/lock"})
    assert later.ok and name not in later.output
    assert not _on_host(f"/run/lock/{name}") and not _on_host(f"/var/lock/{name}")


@pytest.fixture
def host_secrets() -> Iterator[tuple[Path, Path, str]]:
    """A world-readable secrets file and a 0777 Unix socket in /srv, and an abstract socket, on the host."""
    base = Path("/srv") / f"vl-test-{uuid.uuid4().hex[:12]}"
    base.mkdir(parents=True, mode=0o755)
    os.chmod(base, 0o755)
    env_file = base / ".env"
    env_file.write_text("OPENAI_API_KEY=sk-host-secret\n")
    os.chmod(env_file, 0o644)
    path_sock = socket.socket(socket.AF_UNIX)
    path_sock.bind(str(base / "agent.sock"))
    os.chmod(base / "agent.sock", 0o777)
    path_sock.listen(4)
    abstract = f"vl-test-{uuid.uuid4().hex}"
    abstract_sock = socket.socket(socket.AF_UNIX)
    abstract_sock.bind("\0" + abstract)
    abstract_sock.listen(4)
    try:
        yield env_file, base / "agent.sock", abstract
    finally:
        path_sock.close()
        abstract_sock.close()
        shutil.rmtree(base, ignore_errors=True)


async def test_host_files_and_sockets_are_not_there(
    strict: None, service: ToolService, executor: SandboxExecutor, host_secrets: tuple[Path, Path, str]
) -> None:
    env_file, sock_path, abstract = host_secrets
    result = await executor.execute(
        await _tool(service, "reach"), {"path": str(env_file), "sock_path": str(sock_path), "abstract": abstract}
    )
    assert result.ok, result
    seen = json.loads(result.output)
    assert seen["file"] == "FileNotFoundError"
    assert seen["socket"] == "FileNotFoundError"
    assert seen["abstract"] == "ConnectionRefusedError"  # abstract sockets live in the network namespace
    assert not {"srv", "home", "mnt", "opt", "media", "boot", "sys"} & set(seen["root"])


async def test_ptrace_and_other_kernel_surface_are_denied_by_seccomp(
    strict: None, service: ToolService, executor: SandboxExecutor
) -> None:
    result = await executor.execute(await _tool(service, "kernel_surface", timeout_s=60), {})
    assert result.ok, result
    errnos = json.loads(result.output)
    eperm, enosys, eafnosupport = 1, 38, 97
    assert errnos == {
        "ptrace_attach": eperm,
        "process_vm_readv": eperm,
        "unshare_user": eperm,
        "mount": eperm,
        "bpf": eperm,
        "keyctl": eperm,
        "io_uring_setup": eperm,
        "clone3": enosys,
        "personality_no_aslr": eperm,
        "personality_query": 0,
        "vsock": eafnosupport,
    }


async def test_a_cgroup_bounds_the_whole_call_not_each_process(
    strict: None, supervisor: SandboxSupervisor, service: ToolService, executor: SandboxExecutor
) -> None:
    if supervisor.isolation.get("limits") != "cgroup2":
        pytest.skip(f"no delegated cgroup v2 group here: {supervisor.isolation.get('notes')}")
    tool = await _tool(service, "hog_in_processes", timeout_s=40)
    result = await executor.execute(tool, {"n": 4, "mb": 100})  # 400 MiB in all, 100 each, limit 128 MiB
    assert not result.ok and result.error == "MemoryLimitExceeded", result


async def test_a_later_call_cannot_find_an_earlier_calls_secrets_in_its_memory(
    strict: None, service: ToolService, executor: SandboxExecutor
) -> None:
    """Calls reuse connections; a sandbox must still not be forked from a process that held another call's data."""
    secret = f"tok{uuid.uuid4().hex}"
    holder = await _tool(service, "hold_secret", env={"API_TOKEN": secret})
    scanner = await _tool(service, "scan_memory")
    assert (await executor.execute(holder, {"seconds": 0.0})).ok
    for _ in range(2):  # a cold sandbox right away, then (after the idle refill) a warm one
        result = await executor.execute(scanner, {"pattern": "tok[0-9a-f]{32}"})
        assert result.ok, result
        assert secret not in json.loads(result.output)
        await asyncio.sleep(0.5)
