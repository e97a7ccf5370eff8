"""Drive one started sandbox to its end: feed its job, gather capped output, enforce the timeout, classify the end.

Everything happens in one ``selectors`` loop of the monitor: the job pipe (written without blocking), stdout,
stderr and the result pipe (kept up to their caps, the rest counted), the control socket (the tool's wait status
from init, the worker's final report), the worker's pidfd, the wall-clock deadline, and the client's connection:
a client that goes away (a cancelled turn, a dead server) gets its call killed at once.

Outcomes: ``ok`` (a result), ``error`` (the tool raised or exited without a result), ``timeout``, ``memory``
(MemoryError, V8's heap limit, a cgroup OOM kill) and ``killed`` (a signal: CPU or file-size limit, a crash, a
cancelled call).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from jail.spawn import SETUP_FAILED, Running

TRUNCATION_MARKER = "\n…[truncated {n} bytes]"
DRAIN_GRACE_S = 0.5  # after the worker is gone: the namespace is empty, so the pipes end at once


def error(type_: str, message: str) -> dict[str, str]:
    return {"type": type_, "message": message}


def recv_message(ctl: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    data, fds, _, _ = socket.recv_fds(ctl, 65536, 4)
    if not data:
        return None, fds
    return json.loads(data), fds


def wait_setup(running: Running, timeout_s: float = 10.0) -> str | None:
    """Read the worker's first messages (the egress listener, init's pidfd). None when set up, else the error."""
    ctl = running.ctl
    ctl.settimeout(timeout_s)
    try:
        while running.init_pidfd is None:
            message, fds = recv_message(ctl)
            if message is None:
                return "the sandbox worker exited during setup"
            kind = message.get("t")
            if kind == "listener" and fds:
                running.listener = socket.socket(fileno=fds[0])
            elif kind == "init" and fds:
                running.init_pidfd = fds[0]
            elif kind == "error":
                return str(message.get("message"))
            else:
                for fd in fds:
                    os.close(fd)
    except (TimeoutError, OSError) as exc:
        return f"sandbox setup did not answer: {exc}"
    finally:
        ctl.settimeout(None)
    return None


@dataclass
class Collected:
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    result: bytearray = field(default_factory=bytearray)
    dropped: dict[str, int] = field(default_factory=lambda: {"stdout": 0, "stderr": 0, "result": 0})
    tool_status: int | None = None
    oom_kills: int = 0
    setup_error: str | None = None
    timed_out: bool = False
    client_gone: bool = False


def collect(
    running: Running,
    *,
    timeout_s: float | None,
    caps: dict[str, int],
    job: bytes | None = None,
    conn: socket.socket | None = None,
) -> Collected:
    out = Collected()
    bufs = {"stdout": out.stdout, "stderr": out.stderr, "result": out.result}
    names: dict[int, str] = {}
    sel = selectors.DefaultSelector()
    for name in ("stdout", "stderr", "result"):
        fd = getattr(running, f"{name}_r")
        if fd is not None:
            names[fd] = name
            sel.register(fd, selectors.EVENT_READ)
    sel.register(running.ctl, selectors.EVENT_READ)
    sel.register(running.worker_pidfd, selectors.EVENT_READ)
    if conn is not None:
        sel.register(conn, selectors.EVENT_READ)
    pending = memoryview(job) if job else None
    if pending is not None and running.stdin_w is not None:
        os.set_blocking(running.stdin_w, False)
        sel.register(running.stdin_w, selectors.EVENT_WRITE)
    deadline = time.monotonic() + (timeout_s if timeout_s is not None else float("inf"))
    killed = False
    worker_done = False
    try:
        while names or not (worker_done or out.tool_status is not None or out.setup_error is not None):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if killed or worker_done:
                    break  # the grace for draining (or for the kill to land) is over
                out.timed_out = True
                running.kill()
                killed = True
                deadline = time.monotonic() + 5.0
                continue
            for key, _ in sel.select(min(remaining, 3600.0)):
                fd = key.fd
                if fd == running.stdin_w and pending is not None:
                    try:
                        n = os.write(fd, pending)
                    except BlockingIOError:
                        continue
                    except (BrokenPipeError, OSError):
                        n = len(pending)
                    pending = pending[n:]
                    if not pending:
                        sel.unregister(fd)
                        os.close(fd)
                        running.stdin_w = None
                        pending = None
                elif fd in names:
                    chunk = os.read(fd, 65536)
                    name = names[fd]
                    if not chunk:
                        sel.unregister(fd)
                        del names[fd]
                        continue
                    room = max(caps[name] - len(bufs[name]), 0)
                    bufs[name] += chunk[:room]
                    out.dropped[name] += len(chunk) - min(room, len(chunk))
                elif fd == running.ctl.fileno():
                    message, fds = recv_message(running.ctl)
                    for extra in fds:
                        os.close(extra)
                    if message is None:
                        sel.unregister(running.ctl)
                    elif message.get("t") == "exit":
                        out.tool_status = int(message["status"])
                    elif message.get("t") == "done":
                        out.oom_kills = int(message.get("oom_kills", 0))
                        if out.tool_status is None and out.setup_error is None:
                            out.setup_error = f"the call's init ended ({message.get('init')}) without the tool's status"
                    elif message.get("t") == "error":
                        out.setup_error = str(message.get("message"))
                elif fd == running.worker_pidfd:
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(running.worker_pid, 0)
                    sel.unregister(fd)
                    worker_done = True
                    deadline = min(deadline, time.monotonic() + DRAIN_GRACE_S)
                elif conn is not None and fd == conn.fileno():
                    try:
                        peek = conn.recv(1, socket.MSG_PEEK)
                    except OSError:
                        peek = b""
                    sel.unregister(conn)
                    if not peek:  # the client hung up: nobody wants this call any more
                        out.client_gone = True
                        running.kill()
                        killed = True
    finally:
        sel.close()
    if running.cgroup is not None:
        out.oom_kills = running.cgroup.oom_kills()
    return out


def reap(running: Running) -> None:
    """Make sure the call is over (its namespace empty), then free its uid, cgroup and descriptors."""
    running.kill()
    with contextlib.suppress(ChildProcessError):
        os.waitpid(running.worker_pid, 0)
    running.close()


def _text(buf: bytearray, dropped: int) -> str:
    s = buf.decode("utf-8", "replace")
    return s + TRUNCATION_MARKER.format(n=dropped) if dropped else s


def response(out: Collected, *, timeout_s: float, memory_mb: int) -> dict[str, Any]:
    """The protocol's answer to a ``call`` (without v, id and duration)."""
    resp: dict[str, Any] = {
        "ok": False,
        "outcome": "error",
        "result": None,
        "error": None,
        "stdout": _text(out.stdout, out.dropped["stdout"]),
        "stderr": _text(out.stderr, out.dropped["stderr"]),
        "truncated": {name: bool(n) for name, n in out.dropped.items()},
    }
    if out.timed_out:
        message = f"the tool ran longer than {timeout_s:g} s and was killed"
        resp.update(outcome="timeout", error=error("Timeout", message))
        return resp
    if out.client_gone:
        resp.update(outcome="killed", error=error("Cancelled", "the caller went away; the call was killed"))
        return resp
    if out.setup_error is not None and out.tool_status is None:
        resp["error"] = error("SandboxSetupError", out.setup_error)
        return resp
    if out.dropped["result"]:
        resp.update(ok=True, outcome="ok", result=_text(out.result, out.dropped["result"]))
        return resp
    try:
        payload = json.loads(out.result) if out.result else None
    except ValueError:
        payload = None
    if isinstance(payload, dict) and "ok" in payload:
        resp["ok"] = bool(payload["ok"])
        resp["outcome"] = "ok" if resp["ok"] else "error"
        resp["result"] = payload.get("result")
        err = payload.get("error")
        if isinstance(err, dict):
            resp["error"] = error(str(err.get("type", "Error")), str(err.get("message", "")))
            if err.get("type") == "MemoryError":
                resp["outcome"] = "memory"
                resp["error"] = error("MemoryLimitExceeded", f"the tool used more than {memory_mb} MB and was stopped")
        return resp
    status = out.tool_status
    code = os.waitstatus_to_exitcode(status) if status is not None else SETUP_FAILED
    resp["outcome"], resp["error"] = _classify(code, out.oom_kills, resp["stderr"], memory_mb)
    return resp


def _classify(code: int, oom_kills: int, stderr: str, memory_mb: int) -> tuple[str, dict[str, str]]:
    memory = error("MemoryLimitExceeded", f"the tool used more than {memory_mb} MB and was stopped")
    if oom_kills or "heap limit" in stderr or "out of memory" in stderr.lower() or "Failed to reserve" in stderr:
        return "memory", memory
    if code == -signal.SIGXCPU:
        return "killed", error("CpuLimitExceeded", "the tool used up its CPU time and was killed")
    if code == -signal.SIGXFSZ:
        return "killed", error("FileSizeLimitExceeded", "the tool wrote a file larger than allowed")
    if code == -signal.SIGSYS:
        return "killed", error("SyscallDenied", "the tool made a system call the sandbox forbids and was killed")
    if code == SETUP_FAILED:
        return "error", error("SandboxSetupError", stderr.strip()[-500:] or "isolation failed")
    if code < 0:
        return "killed", error("Crashed", f"the tool process was killed by signal {-code} without a result")
    return "error", error("Crashed", f"the tool process ended (exit code {code}) without a result")
