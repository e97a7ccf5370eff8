"""voice-letta tool server: runs user tools in sandboxes, speaking JSON on a Unix socket.

    python sandbox/tool_server.py --socket PATH --work-root DIR [--hide PATH ...] [--expose PATH ...]
                                  [--allow-private HOST:PORT ...] [--no-warm] [--cgroup DIR]

Process tree (a pre-forking "zygote": a Python call costs a few forks and no interpreter start):

    tool server (this process; single-threaded; has imported the runners and built the seccomp filter)
     └─ monitor (one fork per connection: keeps warm sandboxes; never reads a request; monitor.py)
         └─ handler (one fork per request: reads it, enforces limits, runs the call's egress proxy; handler.py)
             └─ worker → init (pid 1 of the call) → tool       see jail/spawn.py

At start the server probes what the kernel allows, then runs one real sandboxed call to confirm it (stepping down
a level, with a note, where something fails), and prints one ``ready`` line with the isolation in force.
The wire protocol (newline-delimited JSON, ``"v": 2``) is in docs/sandbox_protocol.md. A monitor keeps serving
its connection if the tool server dies; the supervisor restarts the server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import threading
import time

import collect
from jail import caps as jail_caps
from jail.limits import Limits
from jail.spawn import Launcher, Plan
from jail.uids import DEFAULT_BASE, DEFAULT_COUNT, UidPool
from monitor import Monitor
from state import PROTOCOL_VERSION, TS_DIR, ServerState, node_flags


def _probe_body() -> None:  # pragma: no cover - runs as the probe tool
    report = {"ok": True, "result": {"uid": os.getuid(), "pid": os.getpid(), "root": sorted(os.listdir("/"))}}
    os.write(3, json.dumps(report).encode())
    os._exit(0)


def _probe_call(state: ServerState) -> str | None:
    """One real sandboxed call with the probed settings: None if it ran as expected, else what went wrong."""
    lease = state.pool.acquire() if state.pool is not None else None
    plan = Plan(Limits(timeout_s=20.0, memory_mb=256), {"PATH": "/usr/bin:/bin"}, python=_probe_body)
    try:
        running = state.launcher.start(plan, lease)
    except OSError as exc:
        if lease is not None:
            lease.release()
        return f"{type(exc).__name__}: {exc}"
    failure = collect.wait_setup(running)
    if failure is None:
        out = collect.collect(running, timeout_s=20.0, caps={"stdout": 4096, "stderr": 4096, "result": 4096})
        resp = collect.response(out, timeout_s=20.0, memory_mb=256)
        if not resp["ok"]:
            err = resp["error"] or {}
            failure = f"{err.get('type')}: {err.get('message')} {resp['stderr'][-300:]}".strip()
        else:
            seen = resp["result"]
            if state.caps.pid_namespace and seen["pid"] != 2:
                failure = f"the probe saw pid {seen['pid']}, not 2: no PID namespace"
            elif state.caps.mount_namespace and "srv" in seen["root"] and "home" in seen["root"]:
                failure = "the probe saw the host's root"
            elif lease is not None and state.caps.uid_per_call and seen["uid"] != lease.uid:
                failure = f"the probe ran as uid {seen['uid']}, not {lease.uid}"
    else:
        running.kill()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(running.worker_pid, 0)
    running.close()
    return failure


def confirm(state: ServerState) -> None:
    """Step down from what the probe found until a real call works, noting each step."""
    caps = state.caps
    for feature in ("mount_namespace", "pid_namespace", "network_namespace", None):
        failure = _probe_call(state)
        if failure is None:
            return
        if feature is None:
            caps.notes.append(f"even a basic sandbox fails here: {failure}")
            return
        if getattr(caps, feature):
            setattr(caps, feature, False)
            caps.notes.append(f"{feature.replace('_', ' ')} turned off: a sandboxed call failed with it ({failure})")
            if feature == "pid_namespace":
                caps.uid_per_call = False


class Server:
    def __init__(self, state: ServerState, socket_path: str) -> None:
        self.state = state
        self.socket_path = socket_path

    def serve_forever(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # monitors are reaped by the kernel
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:  # from here on a SIGTERM (our server died) removes the socket on the way out
            listener.bind(self.socket_path)
            os.chmod(self.socket_path, 0o600)
            listener.listen(128)
            ready = {"v": PROTOCOL_VERSION, "event": "ready", "pid": os.getpid(), "socket": self.socket_path,
                     "isolation": self.state.isolation()}
            sys.stdout.write(json.dumps(ready) + "\n")
            sys.stdout.flush()
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
                        Monitor(self.state, conn).serve()
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


def runtime_paths(node: str | None, expose: list[str]) -> list[str]:
    """Host paths every sandbox sees read-only: the interpreter and venv, node and the TypeScript runner."""
    paths = ["/usr", sys.base_prefix, sys.prefix]
    if node is not None:
        real = os.path.realpath(node)
        if not real.startswith("/usr/"):
            paths.append(os.path.dirname(os.path.dirname(real)))  # e.g. an nvm prefix
        paths.append(TS_DIR)
    return list(dict.fromkeys(os.path.abspath(p) for p in [*paths, *expose]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--socket", required=True)
    parser.add_argument("--work-root", required=True)
    parser.add_argument("--hide", action="append", default=[], help="host path never visible to tools")
    parser.add_argument("--expose", action="append", default=[], help="host path tools may read")
    parser.add_argument("--allow-private", action="append", default=[], help="ADDR[/PREFIX]:PORT|* tools may reach")
    parser.add_argument("--node", default=shutil.which("node"))
    parser.add_argument("--uid-base", type=int, default=DEFAULT_BASE)
    parser.add_argument("--uid-count", type=int, default=DEFAULT_COUNT)
    parser.add_argument("--cgroup", help="a delegated cgroup v2 directory for per-call groups")
    parser.add_argument("--max-timeout-s", type=float, default=600.0)
    parser.add_argument("--no-warm", action="store_true", help="no pre-started TypeScript runtimes")
    ns = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    die_with_parent()
    work_root = os.path.abspath(ns.work_root)
    os.makedirs(work_root, mode=0o711, exist_ok=True)
    os.chmod(work_root, 0o711)
    stage = os.path.join(work_root, ".root")
    os.makedirs(stage, mode=0o700, exist_ok=True)
    cache_dir = os.path.join(work_root, ".ts-cache")
    os.makedirs(cache_dir, exist_ok=True)
    caps = jail_caps.probe(cgroup=ns.cgroup)
    pool = UidPool(os.path.join(work_root, ".uids"), ns.uid_base, ns.uid_count) if caps.uid_per_call else None
    launcher = Launcher(caps, runtime_paths(ns.node, ns.expose), [os.path.abspath(p) for p in ns.hide], stage,
                        work_root)
    state = ServerState(caps, launcher, pool, cache_dir, ns.node, tuple(ns.allow_private),
                        proxy_uid=ns.uid_base - 1 if caps.root else None, warm=not ns.no_warm,
                        max_timeout_s=ns.max_timeout_s, node_flags=tuple(node_flags(ns.node)))
    confirm(state)
    Server(state, ns.socket).serve_forever()


if __name__ == "__main__":
    main()
