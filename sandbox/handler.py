"""One request on a tool server connection, handled in a process of its own (a fork of the connection's monitor).

The handler reads the request, runs it in a sandbox (a warm one the monitor started, or a new one), answers, and
exits after telling the monitor which warm sandbox it used and which runtime to keep warm. Because the monitor
never reads a request itself, no process a sandbox is forked from has ever held another call's arguments,
environment or source: a tool cannot find an earlier call's secrets in the memory it inherited.

Ops (docs/sandbox_protocol.md): ``ping``, ``call``, ``prewarm``, ``spawn`` (a long-lived MCP server wired to
descriptors passed with the request).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import time
from typing import Any

import collect
import egress
import python_runner
from jail import kernel as k
from jail.limits import MALLOC_ARENA_MAX, Limits
from jail.spawn import PROXY_PORT, Plan, Running
from jail.uids import PoolExhausted
from state import PROTOCOL_VERSION, BadRequest, ServerState

MAX_REQUEST_BYTES = 8 * 1024 * 1024
MINIMAL_PATH = "/usr/local/bin:/usr/bin:/bin"
WORK_DIR = "/tmp/work"
PROXY_URL = f"http://127.0.0.1:{PROXY_PORT}"
DEFAULTS: dict[str, float] = {
    "timeout_s": 30.0, "memory_mb": 256, "disk_mb": 64, "max_output_bytes": 64 * 1024, "max_result_bytes": 256 * 1024,
}


def tool_environment(declared: dict[str, str], *, proxy: bool) -> dict[str, str]:
    """The whole environment a tool sees: its declared variables plus PATH, HOME, LANG, TMPDIR, MALLOC_ARENA_MAX
    (and the proxy)."""
    env = {"PATH": MINIMAL_PATH, "HOME": WORK_DIR, "LANG": "C.UTF-8", "TMPDIR": "/tmp",
           "MALLOC_ARENA_MAX": str(MALLOC_ARENA_MAX)}
    if proxy:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            env[name] = PROXY_URL
        env["NO_PROXY"] = env["no_proxy"] = ""
    env.update(declared)
    return env


class SetupFailed(Exception):
    pass


class Connection:
    """Reads newline-terminated requests, with any descriptors sent alongside (SCM_RIGHTS)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.fds: list[int] = []

    def read(self) -> tuple[bytes | None, list[int]]:
        while b"\n" not in self.buf:
            if len(self.buf) > MAX_REQUEST_BYTES:
                raise BadRequest("request too large or not newline-terminated")
            data, fds, _, _ = socket.recv_fds(self.sock, 1 << 16, 4)
            self.fds += fds
            if not data:
                return None, []
            self.buf += data
        line, _, rest = bytes(self.buf).partition(b"\n")
        self.buf = bytearray(rest)
        fds, self.fds = self.fds, []
        return line, fds

    def send(self, message: dict[str, Any]) -> None:
        self.sock.sendall(json.dumps(message, ensure_ascii=False).encode() + b"\n")


def readable_by_anyone(path: str) -> bool:
    """True if any user of this machine could read ``path``: every directory above it searchable by others, and
    the path itself readable (and, for a directory, searchable) by others. A request may only expose such paths,
    or a bind mount would open files that sit in private directories (0644 files under a 0700 home)."""
    path = os.path.abspath(path)
    try:
        st = os.stat(path)
        parts = path.split(os.sep)
        for i in range(1, len(parts)):
            parent = os.sep.join(parts[:i]) or os.sep
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return False
    except OSError:
        return False
    need = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(st.st_mode) else 0)
    return st.st_mode & need == need


def launch(state: ServerState, plan: Plan) -> Running:
    """Start a sandbox for ``plan`` under a uid of its own (held until the sandbox is reaped)."""
    lease = state.pool.acquire() if state.pool is not None else None
    try:
        return state.launcher.start(plan, lease)
    except BaseException:
        if lease is not None:
            lease.release()
        raise


def runtime_plan(state: ServerState, runtime: str, limits: Limits) -> Plan:
    """A sandbox whose runtime waits for one job on stdin (a call's, or a warm sandbox's future call's)."""
    env = tool_environment({}, proxy=False)
    if runtime == "python":
        return Plan(limits, env, python=python_runner.serve, stdin_pipe=True, network=True)
    if state.node is None:
        raise BadRequest("node is not installed")
    heap = f"--max-old-space-size={max(limits.memory_mb, 16)}"
    argv = [state.node, heap, *state.node_flags, state.runner_js]
    return Plan(limits, env, argv=argv, stdin_pipe=True, network=True, node=True)


class Handler:
    def __init__(self, state: ServerState, sock: socket.socket, warm: dict[str, tuple[Running, Limits]]) -> None:
        self.state = state
        self.conn = Connection(sock)
        self.warm = warm  # the monitor's warm sandboxes (inherited descriptors); one may be used
        self.after_answer: list[tuple[Running, int | None]] = []
        self.report: dict[str, Any] = {"consumed": [], "want": {}, "closed": False}

    def run(self) -> dict[str, Any]:  # pragma: no cover - runs in a handler process
        """Serve one request; returns the report for the monitor."""
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            try:
                line, fds = self.conn.read()
            except BadRequest as exc:
                self.conn.send(self._base(None) | {"ok": False, "error": collect.error("BadRequest", str(exc))})
                self.report["closed"] = True
                return self.report
            if line is None:
                self.report["closed"] = True
                return self.report
            answer = self.handle(line, fds)
            try:
                self.conn.send(answer)
            except OSError:
                self.report["closed"] = True
        finally:
            self._cleanup()
        return self.report

    @staticmethod
    def _base(req_id: Any) -> dict[str, Any]:
        return {"v": PROTOCOL_VERSION, "id": req_id}

    def handle(self, line: bytes, fds: list[int]) -> dict[str, Any]:
        try:
            req = json.loads(line)
        except ValueError as exc:
            req = None
            error = collect.error("BadRequest", f"bad JSON: {exc}")
        else:
            error = None if isinstance(req, dict) else collect.error("BadRequest", "not an object")
        base = self._base(req.get("id") if isinstance(req, dict) else None)
        if error is not None or not isinstance(req, dict):
            self._close_fds(fds)
            return base | {"ok": False, "error": error}
        if req.get("v") != PROTOCOL_VERSION:
            self._close_fds(fds)
            unsupported = collect.error("UnsupportedVersion", f"this server speaks v{PROTOCOL_VERSION}")
            return base | {"ok": False, "error": unsupported}
        op = req.get("op")
        try:
            if op == "ping":
                pong = {"pid": self.state.server_pid, "isolation": self.state.isolation()}
                return base | {"ok": True, "result": pong}
            if op == "call":
                return base | self.call(req)
            if op == "prewarm":
                runtime = req.get("runtime")
                if runtime not in ("python", "typescript"):
                    raise BadRequest("runtime must be 'python' or 'typescript'")
                self._want(runtime, self._limits(req))
                return base | {"ok": True, "result": None}
            if op == "spawn":
                return base | self.spawn(req, fds)
            raise BadRequest(f"unknown op {op!r}")
        except BadRequest as exc:
            return base | {"ok": False, "error": collect.error("BadRequest", str(exc)), "stdout": "", "stderr": ""}
        except SetupFailed as exc:
            return base | {"ok": False, "outcome": "error", "error": collect.error("SandboxSetupError", str(exc))}
        except PoolExhausted as exc:
            return base | {"ok": False, "outcome": "error", "error": collect.error("SandboxBusy", str(exc))}
        except Exception as exc:  # the connection keeps serving whatever one call did
            return base | {"ok": False, "error": collect.error("SandboxError", f"{type(exc).__name__}: {exc}")}
        finally:
            self._close_fds(fds)

    @staticmethod
    def _close_fds(fds: list[int]) -> None:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    # --- parsing -----------------------------------------------------------------------------------------
    def _limits(self, req: dict[str, Any]) -> Limits:
        values = dict(DEFAULTS)
        for key, value in (req.get("limits") or {}).items():
            if key not in DEFAULTS or not isinstance(value, int | float) or value <= 0:
                raise BadRequest(f"bad limit {key!r}")
            values[key] = value
        return Limits(timeout_s=float(values["timeout_s"]), memory_mb=int(values["memory_mb"]),
                      disk_mb=int(values["disk_mb"]))

    def _policy(self, req: dict[str, Any]) -> egress.Policy | None:
        network = req.get("network") or {}
        allow = network.get("allow") if isinstance(network, dict) else None
        if not allow:
            return None
        if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
            raise BadRequest("network.allow must be a list of 'host:port' strings")
        try:
            return egress.Policy.parse(allow, self.state.allow_private)
        except egress.PolicyError as exc:
            raise BadRequest(f"network.allow: {exc}") from exc

    @staticmethod
    def _env(req: dict[str, Any]) -> dict[str, str]:
        env = req.get("env") or {}
        if not isinstance(env, dict) or not all(isinstance(k_, str) and isinstance(v, str) for k_, v in env.items()):
            raise BadRequest("env must map strings to strings")
        return env

    # --- calls -------------------------------------------------------------------------------------------
    def call(self, req: dict[str, Any]) -> dict[str, Any]:
        started = time.monotonic()
        runtime = req.get("runtime")
        if runtime not in ("python", "typescript"):
            raise BadRequest("runtime must be 'python' or 'typescript'")
        source, entrypoint, args = req.get("source"), req.get("entrypoint"), req.get("args", {})
        if not isinstance(source, str) or not isinstance(entrypoint, str):
            raise BadRequest("source and entrypoint must be strings")
        if not isinstance(args, dict):
            raise BadRequest("args must be an object")
        limits = self._limits(req)
        lim = req.get("limits") or {}
        caps = {
            "stdout": int(lim.get("max_output_bytes", DEFAULTS["max_output_bytes"])),
            "stderr": int(lim.get("max_output_bytes", DEFAULTS["max_output_bytes"])),
            "result": int(lim.get("max_result_bytes", DEFAULTS["max_result_bytes"])),
        }
        policy = self._policy(req)
        job: dict[str, Any] = {
            "entrypoint": entrypoint, "args": args, "env": tool_environment(self._env(req), proxy=policy is not None),
        }
        if runtime == "python":
            job["source"] = source
        else:
            job["module"] = self.state.compile_typescript(source)
            job["arg_order"] = req.get("arg_order") or list(args)
            job["proxy"] = PROXY_URL if policy is not None else None
        running = self._take_warm(runtime, limits) or launch(self.state, runtime_plan(self.state, runtime, limits))
        self._want(runtime, limits)
        failure = collect.wait_setup(running)
        if failure is not None:
            collect.reap(running)
            raise SetupFailed(failure)
        proxy_pid = self._start_proxy(running, policy)
        try:
            out = collect.collect(running, timeout_s=limits.timeout_s, caps=caps, conn=self.conn.sock,
                                  job=json.dumps(job, ensure_ascii=False).encode() + b"\n")
        finally:
            self.after_answer.append((running, proxy_pid))  # reaped once the answer is sent
        resp = collect.response(out, timeout_s=limits.timeout_s, memory_mb=limits.memory_mb)
        resp["duration_ms"] = round((time.monotonic() - started) * 1000.0, 3)
        return resp

    def _cleanup(self) -> None:
        while self.after_answer:
            running, proxy_pid = self.after_answer.pop()
            if proxy_pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proxy_pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(proxy_pid, 0)
            if not self.state.caps.pid_namespace:  # no namespace to die with: end the call's process group
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(running.worker_pid, signal.SIGKILL)
            collect.reap(running)

    def _start_proxy(self, running: Running, policy: egress.Policy | None) -> int | None:
        listener, running.listener = running.listener, None
        if policy is None or listener is None:
            if listener is not None:
                listener.close()
            return None
        handler = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the call's egress proxy
            try:
                k.die_with_parent(signal.SIGKILL, handler)
                os.closerange(3, listener.fileno())
                os.closerange(listener.fileno() + 1, 1 << 16)
                if os.geteuid() == 0 and self.state.proxy_uid is not None:
                    os.setgroups([])
                    os.setgid(self.state.proxy_uid)
                    os.setuid(self.state.proxy_uid)
                import asyncio

                asyncio.run(egress.serve(listener, policy))
            finally:
                os._exit(0)
        listener.close()
        return pid

    # --- the monitor's warm sandboxes ------------------------------------------------------------------------
    def _take_warm(self, runtime: str, limits: Limits) -> Running | None:
        slot = self.warm.pop(runtime, None)
        if slot is None:
            return None
        self.report["consumed"].append(runtime)  # the monitor reaps it once we are done
        running, warm_limits = slot
        if (warm_limits.memory_mb, warm_limits.disk_mb) != (limits.memory_mb, limits.disk_mb):
            collect.reap(running)
            return None
        return running

    def _want(self, runtime: str, limits: Limits) -> None:
        self.report["want"][runtime] = [limits.memory_mb, limits.disk_mb]

    # --- MCP servers -------------------------------------------------------------------------------------
    def spawn(self, req: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        """Run a long-lived command (an MCP stdio server) wired to the three descriptors sent with the request."""
        command = req.get("command")
        if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
            raise BadRequest("command must be a non-empty list of strings")
        if len(fds) != 3:
            raise BadRequest("spawn needs stdin, stdout and stderr descriptors")
        files = req.get("files") or []
        if not isinstance(files, list) or not all(isinstance(f, str) and os.path.isabs(f) for f in files):
            raise BadRequest("files must be absolute paths")
        for path in files:
            if not readable_by_anyone(path):
                raise BadRequest(f"{path} is not readable by every user of this machine; only such paths can be "
                                 "given to a sandboxed server (an operator can add others with --sandbox-expose)")
        limits = self._limits(req)
        policy = self._policy(req)
        plan = Plan(limits, tool_environment(self._env(req), proxy=policy is not None), argv=list(command),
                    stdio=(fds[0], fds[1], fds[2]), result_pipe=False, network=policy is not None, long_lived=True,
                    read_only=list(files))
        fds.clear()  # the plan owns them now
        running = launch(self.state, plan)
        failure = collect.wait_setup(running)
        if failure is not None:
            collect.reap(running)
            raise SetupFailed(failure)
        proxy_pid = self._start_proxy(running, policy)
        self.after_answer.append((running, proxy_pid))
        self.conn.send(self._base(req.get("id")) | {"ok": True, "event": "started"})
        out = collect.collect(running, timeout_s=None, caps={}, conn=self.conn.sock)  # until the client goes
        code = os.waitstatus_to_exitcode(out.tool_status) if out.tool_status is not None else None
        return {"ok": True, "event": "exited", "code": code, "error": out.setup_error}
