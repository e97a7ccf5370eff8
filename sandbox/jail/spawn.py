"""Start one sandbox: the fork chain worker → init (pid 1 of a new PID namespace) → tool.

    monitor ── fork ──▶ worker   outside the call: unshare(PID|NET|IPC|UTS), loopback up, the egress listener;
                                 reaps init and reports; dies with the monitor (PDEATHSIG)
                ── fork ──▶ init   pid 1 of the call: joins the call's cgroup, unshare(NS), builds the minimal
                                   root and pivots into it; reaps every process; exits when the tool exits, and
                                   the kernel then kills whatever the tool left behind (no orphans, ever)
                    ── fork ──▶ tool   dup2 stdio, rlimits, drop to the call's uid, no_new_privs + seccomp,
                                       then runs the Python runner or execs (node, an MCP server command)

The worker and init talk to the monitor over a SOCK_SEQPACKET socketpair (``ctl``): one JSON object per message,
with file descriptors attached where said: ``listener`` [fd], ``init`` [pidfd], ``exit`` {status} (the tool's
wait status, from init), ``done`` {oom_kills} (from the worker, after init is reaped: the namespace is empty),
``error`` {message} (setup failed; the tool did not run).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jail import kernel as k
from jail import rootfs
from jail.caps import Capabilities
from jail.limits import CallCgroup, Limits, apply_rlimits
from jail.uids import Lease

PROXY_PORT = 3128
MAX_FD = 1 << 16
SETUP_FAILED = 70


@dataclass
class Plan:
    """What one sandbox runs. Exactly one of ``python`` (a callable run in the forked tool process) and ``argv``."""

    limits: Limits
    env: dict[str, str]
    python: Callable[[], None] | None = None
    argv: list[str] | None = None
    stdio: tuple[int, int, int] | None = None  # given descriptors (an MCP server's pipes); else pipes are made
    stdin_pipe: bool = False  # a pipe the monitor writes the job to (TypeScript)
    result_pipe: bool = True  # descriptor 3: the runner's JSON result
    network: bool = False  # make the egress listener inside the call's network namespace
    node: bool = False  # V8 needs address space beyond its heap
    long_lived: bool = False  # an MCP server: no CPU-time limit
    read_only: list[str] = field(default_factory=list)  # host paths bound read-only for this sandbox only


@dataclass
class Running:
    worker_pid: int
    worker_pidfd: int
    ctl: socket.socket
    lease: Lease | None
    cgroup: CallCgroup | None
    stdin_w: int | None = None
    stdout_r: int | None = None
    stderr_r: int | None = None
    result_r: int | None = None
    init_pidfd: int | None = None
    listener: socket.socket | None = None
    workdir: str | None = None  # a host directory (no mount namespace), removed at the end

    def kill(self) -> None:
        """SIGKILL the call's init (the kernel then kills its whole PID namespace), else the worker."""
        try:
            if self.init_pidfd is not None:
                signal.pidfd_send_signal(self.init_pidfd, signal.SIGKILL)
            else:
                os.kill(self.worker_pid, signal.SIGKILL)
        except (ProcessLookupError, OSError):
            pass

    def close(self) -> None:
        for fd in (self.stdin_w, self.stdout_r, self.stderr_r, self.result_r, self.init_pidfd, self.worker_pidfd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.stdin_w = self.stdout_r = self.stderr_r = self.result_r = self.init_pidfd = None
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        self.ctl.close()
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        if self.lease is not None:
            self.lease.release()


def _send(ctl: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    if fds:
        socket.send_fds(ctl, [data], fds)
    else:
        ctl.send(data)


class Launcher:
    """Everything a sandbox needs that is fixed for the tool server's life (probed capabilities, root spec)."""

    def __init__(self, caps: Capabilities, read_only: list[str], hidden: list[str], stage: str, work_root: str) -> None:
        self.caps = caps
        self.read_only = read_only
        self.hidden = hidden
        self.stage = stage
        self.work_root = work_root  # host work dirs, only where there is no mount namespace (level basic)

    def start(self, plan: Plan, lease: Lease | None) -> Running:
        ctl_parent, ctl_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pipes: dict[str, tuple[int, int]] = {}
        if plan.stdio is None:
            pipes["stdout"] = os.pipe()
            pipes["stderr"] = os.pipe()
        if plan.stdin_pipe:
            pipes["stdin"] = os.pipe()
        if plan.result_pipe:
            pipes["result"] = os.pipe()
        cgroup = self.caps.cgroup.create(plan.limits) if self.caps.cgroup is not None else None
        workdir = None
        if not self.caps.mount_namespace:
            workdir = tempfile.mkdtemp(prefix="call-", dir=self.work_root)
            if lease is not None:
                os.chown(workdir, lease.uid, lease.uid)
        monitor = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - worker
            ctl_parent.close()
            self._worker(plan, lease, cgroup, ctl_child, pipes, monitor, workdir)
        ctl_child.close()
        running = Running(pid, os.pidfd_open(pid), ctl_parent, lease, cgroup, workdir=workdir)
        for name, (r, w) in pipes.items():
            if name == "stdin":
                os.close(r)
                running.stdin_w = w
            else:
                os.close(w)
                setattr(running, f"{name}_r", r)
        if plan.stdio is not None:
            for fd in plan.stdio:
                os.close(fd)
        return running

    # --- inside the call -----------------------------------------------------------------------------------
    def _worker(  # pragma: no cover - runs in the child
        self, plan: Plan, lease: Lease | None, cgroup: CallCgroup | None, ctl: socket.socket,
        pipes: dict[str, tuple[int, int]], monitor: int, workdir: str | None,
    ) -> None:
        try:
            k.die_with_parent(signal.SIGKILL, monitor)
            os.setsid()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            caps = self.caps
            if caps.user_namespace:
                self._enter_user_namespace()
            flags = 0
            flags |= k.CLONE_NEWPID if caps.pid_namespace else 0
            flags |= k.CLONE_NEWNET if caps.network_namespace else 0
            flags |= (k.CLONE_NEWIPC | k.CLONE_NEWUTS) if caps.mount_namespace else 0
            if flags:
                k.unshare(flags)
            if caps.network_namespace:
                k.loopback_up()
                if plan.network:
                    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    listener.bind(("127.0.0.1", PROXY_PORT))
                    listener.listen(64)
                    _send(ctl, {"t": "listener"}, [listener.fileno()])
                    listener.close()
            # init's parent is outside its PID namespace, where getppid() reads 0
            me = 0 if caps.pid_namespace else os.getpid()
            pid = os.fork()
            if pid == 0:
                self._init(plan, lease, cgroup, ctl, pipes, me, workdir)
            _send(ctl, {"t": "init"}, [os.pidfd_open(pid)])
            for r, w in pipes.values():
                os.close(r)
                os.close(w)
            for fd in plan.stdio or ():
                os.close(fd)
            _, status = os.waitpid(pid, 0)
            oom = cgroup.oom_kills() if cgroup is not None else 0
            _send(ctl, {"t": "done", "init": status, "oom_kills": oom})  # the namespace is empty now
            os._exit(0)
        except BaseException as exc:
            with contextlib.suppress(BaseException):
                _send(ctl, {"t": "error", "message": f"{type(exc).__name__}: {exc}"})
            os._exit(SETUP_FAILED)

    def _enter_user_namespace(self) -> None:  # pragma: no cover - non-root servers
        uid, gid = os.getuid(), os.getgid()
        k.unshare(k.CLONE_NEWUSER)
        k.write_file("/proc/self/setgroups", "deny")
        k.write_file("/proc/self/uid_map", f"0 {uid} 1")
        k.write_file("/proc/self/gid_map", f"0 {gid} 1")

    def _init(  # pragma: no cover - pid 1 of the call
        self, plan: Plan, lease: Lease | None, cgroup: CallCgroup | None, ctl: socket.socket,
        pipes: dict[str, tuple[int, int]], worker: int, workdir: str | None,
    ) -> None:
        try:
            k.die_with_parent(signal.SIGKILL, worker)
            if cgroup is not None:
                cgroup.join()
            uid = lease.uid if lease is not None else os.getuid()
            if self.caps.mount_namespace:
                k.unshare(k.CLONE_NEWNS)
                spec = rootfs.RootSpec(stage=self.stage, read_only=[*self.read_only, *plan.read_only],
                                       hidden=self.hidden, disk_mb=plan.limits.disk_mb, uid=uid, gid=uid)
                rootfs.build(spec)
            elif workdir is not None:
                os.chdir(workdir)
            tool = os.fork()
            if tool == 0:
                self._tool(plan, lease, cgroup, pipes)
        except BaseException as exc:
            with contextlib.suppress(BaseException):
                _send(ctl, {"t": "error", "message": f"{type(exc).__name__}: {exc}"})
            os._exit(SETUP_FAILED)
        for r, w in pipes.values():
            os.close(r)
            os.close(w)
        for fd in plan.stdio or ():
            os.close(fd)
        while True:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                os._exit(0)
            if pid == tool:
                with contextlib.suppress(BaseException):
                    _send(ctl, {"t": "exit", "status": status})
                os._exit(0)

    def _tool(  # pragma: no cover - the tool process
        self, plan: Plan, lease: Lease | None, cgroup: CallCgroup | None, pipes: dict[str, tuple[int, int]],
    ) -> None:
        try:
            if plan.stdio is not None:
                stdin, stdout, stderr = plan.stdio
            else:
                stdin = pipes["stdin"][0] if "stdin" in pipes else os.open(os.devnull, os.O_RDONLY)
                stdout, stderr = pipes["stdout"][1], pipes["stderr"][1]
            result = pipes["result"][1] if "result" in pipes else None
            # through copies numbered >= 10 first: a source may sit on a target number
            wanted = (stdin, stdout, stderr, *([result] if result is not None else []))
            staged = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in wanted]
            for target, fd in enumerate(staged):
                os.dup2(fd, target)
            os.closerange(len(staged), MAX_FD)
            for sig in (signal.SIGPIPE, signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)
            apply_rlimits(plan.limits, node=plan.node, cgroup=cgroup is not None, long_lived=plan.long_lived)
            if lease is not None and os.geteuid() == 0 and not self.caps.user_namespace:
                os.setgroups([])
                os.setgid(lease.uid)
                os.setuid(lease.uid)
                # the uid change made us non-dumpable: /proc/self would belong to root. The uid is the call's
                # alone, so ordinary dumpability exposes nothing (and seccomp forbids ptrace anyway).
                k.prctl(k.PR_SET_DUMPABLE, 1)
            elif self.caps.user_namespace:
                k.drop_capabilities()
            os.umask(0o022)
            if self.caps.seccomp is not None:
                self.caps.seccomp.load()
            else:
                k.prctl(k.PR_SET_NO_NEW_PRIVS, 1)
            if plan.argv is not None:
                exe = plan.argv[0]
                if os.sep not in exe:
                    exe = shutil.which(exe, path=plan.env.get("PATH")) or exe
                os.execve(exe, plan.argv, plan.env)
        except BaseException as exc:
            with contextlib.suppress(BaseException):
                os.write(2, f"sandbox setup failed: {type(exc).__name__}: {exc}\n".encode())
            os._exit(SETUP_FAILED)
        assert plan.python is not None
        os.environ.clear()
        os.environ.update(plan.env)
        plan.python()
        sys.exit(0)
