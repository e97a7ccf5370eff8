"""Resource limits of one sandbox: a cgroup v2 group when the host delegates one to us, rlimits always.

cgroup v2 (memory.max with no swap and one OOM kill taking the whole call, pids.max, cpu.max) bounds the whole
call, tmpfs pages included, and tells an out-of-memory kill apart (memory.events ``oom_kill``). It is used when a
cgroup directory whose ``cgroup.subtree_control`` enables the memory and pids controllers is writable: the one
given with ``--cgroup``, or the tool server's own cgroup or its parent (systemd ``Delegate=yes`` with
``DelegateSubgroup=``). Otherwise rlimits stand alone: RLIMIT_AS per process (a fork bomb is bounded by
RLIMIT_NPROC, which counts the call's own uid), RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NOFILE, RLIMIT_CORE=0.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import secrets
from dataclasses import dataclass

NODE_RESERVATION = 1 << 30  # V8 reserves about 1 GiB of address space up front; its heap is capped by a flag
# glibc gives each new thread a malloc arena that reserves 64 MiB of address space: under RLIMIT_AS 256 MiB a tool
# could start only four threads, and a 100 MiB allocation failed after them although little memory was in use.
# One arena (threads share the main heap) keeps RLIMIT_AS a measure of memory, not of reservations.
MALLOC_ARENA_MAX = 1
_M_ARENA_MAX = -8  # mallopt parameter, <malloc.h>
CPU_MAX = "100000 100000"  # one CPU per call


@dataclass
class Limits:
    timeout_s: float
    memory_mb: int
    disk_mb: int = 64
    max_processes: int = 64
    max_open_files: int = 256


def apply_rlimits(limits: Limits, *, node: bool, cgroup: bool, long_lived: bool = False) -> None:
    """Set the rlimits of the calling (tool) process; everything it starts inherits them."""
    if not long_lived:
        cpu_s = int(limits.timeout_s) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    if not cgroup:
        mem = (limits.memory_mb << 20) + (NODE_RESERVATION if node else 0)
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        limit_malloc_arenas()
    disk = (limits.disk_mb << 20) + 1  # a write past the quota is ENOSPC, not SIGXFSZ
    resource.setrlimit(resource.RLIMIT_FSIZE, (disk, disk))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.max_open_files, limits.max_open_files))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def limit_malloc_arenas() -> None:
    """This process (a Python tool runs in the process that calls this) uses one malloc arena; programs it execs
    get ``MALLOC_ARENA_MAX`` from the tool's environment (``handler.tool_environment``)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, MALLOC_ARENA_MAX)


def _own_cgroup() -> tuple[str, str] | None:
    """(mount point of the cgroup2 hierarchy, our path in it), or None on a v1-only host."""
    path = None
    with open("/proc/self/cgroup", encoding="utf-8") as f:
        for line in f:
            if line.startswith("0::"):
                path = line[3:].strip()
    if path is None:
        return None
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split(" ", 1)[0] == "cgroup2":
                return left.split()[4], path
    return None


def _usable(directory: str) -> bool:
    try:
        with open(os.path.join(directory, "cgroup.subtree_control"), encoding="utf-8") as f:
            enabled = set(f.read().split())
    except OSError:
        return False
    if not {"memory", "pids"} <= enabled:
        return False
    probe = os.path.join(directory, f"vl-probe-{secrets.token_hex(4)}")
    try:
        os.mkdir(probe)
    except OSError:
        return False
    os.rmdir(probe)
    return True


class CgroupParent:
    """Where per-sandbox cgroups are made, or why there is none (``reason``)."""

    def __init__(self, explicit: str | None = None) -> None:
        self.path: str | None = None
        self.reason = ""
        candidates: list[str] = []
        if explicit:
            candidates.append(explicit)
        else:
            own = _own_cgroup()
            if own is None:
                self.reason = "no cgroup v2 hierarchy (cgroup v1 host): rlimits"
                return
            mount_point, rel = own
            here = os.path.join(mount_point, rel.lstrip("/"))
            candidates += [here, os.path.dirname(here)]
        for directory in candidates:
            if _usable(directory):
                self.path = directory
                return
        controllers = ""
        with contextlib.suppress(OSError), open(os.path.join(candidates[0], "cgroup.controllers")) as f:
            controllers = f.read().strip()
        self.reason = (
            f"cgroup v2 not delegated ({candidates[0]}: controllers {controllers or 'none'}; "
            "need memory and pids enabled in cgroup.subtree_control of a writable group): rlimits"
        )

    def create(self, limits: Limits) -> CallCgroup | None:
        if self.path is None:
            return None
        return CallCgroup(self.path, limits)


class CallCgroup:
    def __init__(self, parent: str, limits: Limits) -> None:
        self.path = os.path.join(parent, f"vl-call-{secrets.token_hex(6)}")
        os.mkdir(self.path)
        self._write("memory.max", str(limits.memory_mb << 20))
        with contextlib.suppress(OSError):  # no swap accounting on some kernels
            self._write("memory.swap.max", "0")
        with contextlib.suppress(OSError):  # an out-of-memory kill takes the whole call, not one of its processes
            self._write("memory.oom.group", "1")
        self._write("pids.max", str(limits.max_processes))
        with contextlib.suppress(OSError):  # the cpu controller may not be delegated
            self._write("cpu.max", CPU_MAX)

    def _write(self, name: str, value: str) -> None:
        with open(os.path.join(self.path, name), "w", encoding="utf-8") as f:
            f.write(value)

    def join(self) -> None:
        """Move the calling process (the call's init, before it forks anything) into the group."""
        self._write("cgroup.procs", "0")

    def oom_kills(self) -> int:
        with contextlib.suppress(OSError), open(os.path.join(self.path, "memory.events"), encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self._write("cgroup.kill", "1")
        with contextlib.suppress(OSError):
            os.rmdir(self.path)
