"""voice-letta tool server: runs user tools in isolated child processes, speaking JSON on a Unix socket.

    python sandbox/tool_server.py --socket PATH --work-root DIR [--hide PATH ...]

Process tree (a pre-forking "zygote", so a call costs two forks and no interpreter start):

    tool server (this process; single-threaded; has imported the runners)
     └─ connection monitor (one fork per accepted connection; reads requests, enforces limits)
         └─ worker (one fork per call: namespaces, rlimits, fresh cwd, no inherited env, unprivileged user)
             └─ node (TypeScript calls only: the worker execs node on the compiled tool)

The wire protocol (newline-delimited JSON, versioned ``"v": 1``) is in docs/sandbox_protocol.md.
A monitor keeps serving its connection if the tool server dies; the supervisor restarts the server.
Only the standard library is used: this file must run under any Python 3.11+.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import isolation
import python_runner

PROTOCOL_VERSION = 1
MAX_REQUEST_BYTES = 8 * 1024 * 1024
TRUNCATION_MARKER = "\n…[truncated {n} bytes]"
HERE = os.path.dirname(os.path.abspath(__file__))
TS_DIR = os.path.join(HERE, "typescript")
DEFAULTS = {"timeout_s": 30.0, "memory_mb": 256, "max_output_bytes": 64 * 1024, "max_result_bytes": 256 * 1024}


class BadRequest(Exception):
    pass


def _error(type_: str, message: str) -> dict[str, str]:
    return {"type": type_, "message": message}


# -------------------------------------------------------------------------------------------------------
# TypeScript compilation (cached by source hash; esbuild only parses and prints, it never runs the code)
# -------------------------------------------------------------------------------------------------------


def esbuild_path() -> str | None:
    plat = {"linux": "linux", "darwin": "darwin"}.get(sys.platform, sys.platform)
    arch = {"x86_64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(os.uname().machine, os.uname().machine)
    for candidate in (
        os.path.join(TS_DIR, "node_modules", "@esbuild", f"{plat}-{arch}", "bin", "esbuild"),
        os.path.join(TS_DIR, "node_modules", ".bin", "esbuild"),
    ):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def compile_typescript(source: str, cache_dir: str) -> str:
    digest = hashlib.sha256(source.encode()).hexdigest()
    target = os.path.join(cache_dir, f"{digest}.mjs")
    if os.path.exists(target):
        with open(target, encoding="utf-8") as f:
            return f.read()
    exe = esbuild_path()
    if exe is None:
        raise BadRequest("esbuild is not installed: run `npm ci` in sandbox/typescript")
    proc = subprocess.run(
        [exe, "--loader=ts", "--format=esm", "--target=node18", "--log-level=error"],
        input=source.encode(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    if proc.returncode != 0:
        raise BadRequest("TypeScript does not compile: " + proc.stderr.decode(errors="replace")[:2000])
    js = proc.stdout.decode()
    tmp = f"{target}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(js)
    os.replace(tmp, target)
    return js


# -------------------------------------------------------------------------------------------------------
# One call
# -------------------------------------------------------------------------------------------------------


def _remap_import_paths(moves: dict[str, str]) -> None:  # pragma: no cover - runs in the worker
    """Point sys.path and already-imported packages' __path__ at the read-only exposed copies."""

    def move(path: str) -> str:
        for old, new in moves.items():
            if path == old or path.startswith(old + os.sep):
                return new + path[len(old) :]
        return path

    sys.path[:] = [move(p) for p in sys.path]
    for module in list(sys.modules.values()):
        paths = getattr(module, "__path__", None)
        if isinstance(paths, list):
            paths[:] = [move(p) for p in paths]
    sys.path_importer_cache.clear()


class Server:
    def __init__(self, socket_path: str, work_root: str, hidden_paths: list[str], node: str | None) -> None:
        self.socket_path = socket_path
        self.work_root = work_root
        self.hidden_paths = hidden_paths
        self.node = node
        self.caps = isolation.probe()
        self.cache_dir = os.path.join(work_root, ".ts-cache")
        os.makedirs(self.cache_dir, exist_ok=True)
        self.runner_js = os.path.join(TS_DIR, "runner.mjs")
        # sys.path entries the unprivileged user cannot read (a pyenv under /root): exposed read-only
        self.expose_index: list[int] = []
        if self.caps.drop_user and self.caps.mountns:
            self.expose_index = [i for i, p in enumerate(sys.path) if p and isolation.unreachable_for_others(p)]

    # --- request parsing -------------------------------------------------------------------------------
    def _parse_call(self, req: dict[str, Any]) -> dict[str, Any]:
        runtime = req.get("runtime")
        if runtime not in ("python", "typescript"):
            raise BadRequest("runtime must be 'python' or 'typescript'")
        if not isinstance(req.get("source"), str) or not isinstance(req.get("entrypoint"), str):
            raise BadRequest("source and entrypoint must be strings")
        if not isinstance(req.get("args", {}), dict):
            raise BadRequest("args must be an object")
        env = req.get("env") or {}
        if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise BadRequest("env must map strings to strings")
        limits = dict(DEFAULTS)
        for key, value in (req.get("limits") or {}).items():
            if key not in DEFAULTS or not isinstance(value, int | float) or value <= 0:
                raise BadRequest(f"bad limit {key!r}")
            limits[key] = value
        arg_order = req.get("arg_order") or list(req.get("args", {}))
        return {**req, "env": env, "limits": limits, "arg_order": arg_order, "args": req.get("args", {})}

    # --- the call --------------------------------------------------------------------------------------
    def call(self, req: dict[str, Any]) -> dict[str, Any]:
        started = time.monotonic()
        call = self._parse_call(req)
        workdir = tempfile.mkdtemp(prefix="call-", dir=self.work_root)
        try:
            if call["runtime"] == "python":
                with open(os.path.join(workdir, python_runner.MODULE_FILE), "w", encoding="utf-8") as f:
                    f.write(call["source"])
            else:
                if self.node is None:
                    raise BadRequest("node is not installed")
                js = compile_typescript(call["source"], self.cache_dir)
                with open(os.path.join(workdir, "tool.mjs"), "w", encoding="utf-8") as f:
                    f.write(js)
                shutil.copy(self.runner_js, os.path.join(workdir, "runner.mjs"))
                with open(os.path.join(workdir, "input.json"), "w", encoding="utf-8") as f:
                    json.dump(
                        {"entrypoint": call["entrypoint"], "args": call["args"], "arg_order": call["arg_order"]}, f
                    )
            if self.caps.root and self.caps.drop_user:
                import pwd

                user = pwd.getpwnam(self.caps.drop_user)
                for name in [".", *os.listdir(workdir)]:
                    os.chown(os.path.join(workdir, name), user.pw_uid, user.pw_gid)
            out = self._run_worker(call, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        out["v"] = PROTOCOL_VERSION
        out["id"] = req.get("id")
        out["duration_ms"] = round((time.monotonic() - started) * 1000.0, 3)
        return out

    def _run_worker(self, call: dict[str, Any], workdir: str) -> dict[str, Any]:
        lim = call["limits"]
        limits = isolation.Limits(
            timeout_s=float(lim["timeout_s"]),
            memory_mb=int(lim["memory_mb"]),
            max_file_bytes=max(int(lim["max_output_bytes"]) * 16, 1 << 20),
        )
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - worker
            self._worker(call, workdir, limits, out_w, err_w, res_w)
        for fd in (out_w, err_w, res_w):
            os.close(fd)
        caps = {
            out_r: int(lim["max_output_bytes"]),
            err_r: int(lim["max_output_bytes"]),
            res_r: int(lim["max_result_bytes"]),
        }
        bufs: dict[int, bytearray] = {fd: bytearray() for fd in caps}
        dropped: dict[int, int] = dict.fromkeys(caps, 0)
        deadline = time.monotonic() + limits.timeout_s
        timed_out = False
        status: int | None = None
        pidfd = os.pidfd_open(pid)
        sel = selectors.DefaultSelector()
        for fd in caps:
            sel.register(fd, selectors.EVENT_READ)
        sel.register(pidfd, selectors.EVENT_READ)
        open_fds = set(caps)
        try:
            while open_fds or status is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = status is None
                    break
                for key, _ in sel.select(remaining):
                    fd = int(key.fd)  # type: ignore[arg-type]
                    if fd == pidfd:
                        done, raw = os.waitpid(pid, os.WNOHANG)
                        if done:
                            status = raw
                            sel.unregister(pidfd)
                            # a grandchild may still hold the pipes: give them a moment, not the timeout
                            deadline = min(deadline, time.monotonic() + 0.2)
                        continue
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        sel.unregister(fd)
                        open_fds.discard(fd)
                        continue
                    room = caps[fd] - len(bufs[fd])
                    bufs[fd] += chunk[: max(room, 0)]
                    dropped[fd] += max(len(chunk) - max(room, 0), 0)
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)  # the worker and anything it spawned in its session
            if status is None:
                _, status = os.waitpid(pid, 0)
            sel.close()
            for fd in (*caps, pidfd):
                os.close(fd)

        def text(fd: int) -> str:
            s = bufs[fd].decode("utf-8", "replace")
            return s + TRUNCATION_MARKER.format(n=dropped[fd]) if dropped[fd] else s

        resp: dict[str, Any] = {
            "ok": False,
            "result": None,
            "error": None,
            "stdout": text(out_r),
            "stderr": text(err_r),
        }
        truncated = {name: bool(dropped[fd]) for name, fd in (("stdout", out_r), ("stderr", err_r), ("result", res_r))}
        resp["truncated"] = truncated
        if timed_out:
            resp["error"] = _error("Timeout", f"the tool ran longer than {limits.timeout_s:g} s and was killed")
            return resp
        if dropped[res_r]:
            resp["ok"] = True
            resp["result"] = text(res_r)
            return resp
        code = os.waitstatus_to_exitcode(status)
        try:
            payload = json.loads(bufs[res_r]) if bufs[res_r] else None
        except ValueError:
            payload = None
        if isinstance(payload, dict) and "ok" in payload:
            resp["ok"] = bool(payload["ok"])
            resp["result"] = payload.get("result")
            err = payload.get("error")
            if isinstance(err, dict):
                resp["error"] = _error(str(err.get("type", "Error")), str(err.get("message", "")))
                if err.get("type") == "MemoryError":
                    resp["error"]["type"] = "MemoryLimitExceeded"
                    resp["error"]["message"] = f"the tool used more than {limits.memory_mb} MB and was stopped"
            return resp
        resp["error"] = self._classify_crash(code, limits, resp["stderr"])
        return resp

    @staticmethod
    def _classify_crash(code: int, limits: isolation.Limits, stderr: str) -> dict[str, str]:
        if code == -signal.SIGXCPU or (code == -signal.SIGKILL and "CPU" in stderr):
            return _error("CpuLimitExceeded", "the tool used up its CPU time and was killed")
        if "heap limit" in stderr or "out of memory" in stderr.lower() or "Failed to reserve" in stderr:
            return _error("MemoryLimitExceeded", f"the tool used more than {limits.memory_mb} MB and was stopped")
        if code == -signal.SIGXFSZ:
            return _error("FileSizeLimitExceeded", "the tool wrote a file larger than allowed")
        if code == 70:
            return _error("SandboxSetupError", stderr.strip()[-500:] or "isolation failed")
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        return _error("Crashed", f"the tool process ended ({how}) without a result")

    def _worker(
        self, call: dict[str, Any], workdir: str, limits: isolation.Limits, out_w: int, err_w: int, res_w: int
    ) -> None:  # pragma: no cover - runs in the child
        try:
            os.setsid()
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.dup2(res_w, 3)
            os.closerange(4, 1 << 16)
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            ts = call["runtime"] == "typescript"
            expose = [] if ts else [sys.path[i] for i in self.expose_index]
            cwd, exposed = isolation.apply(
                self.caps,
                workdir=workdir,
                limits=limits,
                network=bool(call.get("network")),
                hidden_paths=self.hidden_paths,
                expose=expose,
                node_heap=ts,
            )
            if exposed:
                _remap_import_paths({sys.path[i]: new for i, new in zip(self.expose_index, exposed, strict=True)})
            env = isolation.tool_environment(cwd, call["env"])
            os.environ.clear()
            os.environ.update(env)
        except BaseException as exc:
            with contextlib.suppress(BaseException):
                os.write(2, f"sandbox setup failed: {exc}\n".encode())
            os._exit(70)
        if ts:
            assert self.node is not None
            heap = f"--max-old-space-size={max(int(limits.memory_mb), 16)}"
            try:
                os.execve(self.node, [self.node, heap, "--disallow-code-generation-from-strings", "runner.mjs"], env)
            except BaseException:
                os._exit(70)
        python_runner.run(call["entrypoint"], call["args"])

    # --- connections -----------------------------------------------------------------------------------
    def handle(self, request_line: bytes) -> dict[str, Any]:
        try:
            req = json.loads(request_line)
        except ValueError as exc:
            return {"v": PROTOCOL_VERSION, "id": None, "ok": False, "error": _error("BadRequest", f"bad JSON: {exc}")}
        if not isinstance(req, dict):
            return {"v": PROTOCOL_VERSION, "id": None, "ok": False, "error": _error("BadRequest", "not an object")}
        base = {"v": PROTOCOL_VERSION, "id": req.get("id")}
        if req.get("v") != PROTOCOL_VERSION:
            return {
                **base,
                "ok": False,
                "error": _error("UnsupportedVersion", f"this server speaks v{PROTOCOL_VERSION}"),
            }
        op = req.get("op")
        try:
            if op == "ping":
                return {**base, "ok": True, "result": {"pid": os.getppid(), "isolation": self.caps.as_dict()}}
            if op == "call":
                return self.call(req)
            raise BadRequest(f"unknown op {op!r}")
        except BadRequest as exc:
            return {**base, "ok": False, "error": _error("BadRequest", str(exc)), "stdout": "", "stderr": ""}
        except Exception as exc:  # the server keeps serving whatever one call did
            return {**base, "ok": False, "error": _error("SandboxError", f"{type(exc).__name__}: {exc}")}

    def serve_connection(self, conn: socket.socket) -> None:  # pragma: no cover - runs in a monitor
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with conn, conn.makefile("rb") as reader:
            while True:
                line = reader.readline(MAX_REQUEST_BYTES)
                if not line:
                    return
                if not line.endswith(b"\n"):
                    resp = {
                        "v": PROTOCOL_VERSION,
                        "id": None,
                        "ok": False,
                        "error": _error("BadRequest", "request too large or not newline-terminated"),
                    }
                    conn.sendall(json.dumps(resp).encode() + b"\n")
                    return
                resp = self.handle(line)
                conn.sendall(json.dumps(resp, ensure_ascii=False).encode() + b"\n")

    def serve_forever(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.socket_path)
        os.chmod(self.socket_path, 0o600)
        listener.listen(128)
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # monitors are reaped by the kernel
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        ready = {
            "v": PROTOCOL_VERSION,
            "event": "ready",
            "pid": os.getpid(),
            "socket": self.socket_path,
            "isolation": self.caps.as_dict(),
        }
        sys.stdout.write(json.dumps(ready) + "\n")
        sys.stdout.flush()
        try:
            while True:
                try:
                    conn, _ = listener.accept()
                except InterruptedError:
                    continue
                pid = os.fork()
                if pid == 0:  # pragma: no cover - monitor
                    listener.close()
                    code = 0
                    try:
                        self.serve_connection(conn)
                    except BaseException:
                        code = 1
                    os._exit(code)
                conn.close()
        finally:
            with contextlib.suppress(OSError):
                os.unlink(self.socket_path)


def die_with_parent() -> None:
    """Exit when the voice-letta server that started us dies, even by SIGKILL (it runs no cleanup then).

    Linux's PR_SET_PDEATHSIG sends us SIGTERM (whose handler unlinks the socket); where it is missing, a thread
    polls for the parent changing. A parent already gone before this ran is caught by the ``getppid`` check.
    """
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, int(signal.SIGTERM), 0, 0, 0) == 0:  # PR_SET_PDEATHSIG
            if os.getppid() != parent:
                sys.exit(0)
            return
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True)
    parser.add_argument("--work-root", required=True)
    parser.add_argument("--hide", action="append", default=[], help="directory to hide from tools")
    parser.add_argument("--node", default=shutil.which("node"))
    ns = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    die_with_parent()
    os.makedirs(ns.work_root, mode=0o711, exist_ok=True)
    os.chmod(ns.work_root, 0o711)
    Server(ns.socket, os.path.abspath(ns.work_root), [os.path.abspath(p) for p in ns.hide], ns.node).serve_forever()


if __name__ == "__main__":
    main()
