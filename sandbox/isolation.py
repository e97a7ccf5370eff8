"""Process isolation applied inside a forked worker before user code runs (Linux; stdlib only).

Order matters: namespaces and mounts need privilege, so they come first; resource limits next; dropping
to the unprivileged user last. See docs/sandbox.md for what this does and does not stop.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import pwd
import resource
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

MINIMAL_PATH = "/usr/local/bin:/usr/bin:/bin"
PRIVATE_TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
WORK_MOUNT = "/tmp/work"
EXPOSE_DIR = "/tmp/.expose"

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


class IsolationError(Exception):
    pass


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise IsolationError(f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    rc = _libc.mount(
        source.encode() if source else None,
        target.encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    _check(rc, f"mount {target}")


@dataclass
class Capabilities:
    """What this machine lets the tool server do, probed once at start."""

    root: bool = False
    drop_user: str | None = None  # the user calls run as, when the server is root
    userns: bool = False  # unprivileged user namespaces (non-root servers)
    netns: bool = False
    mountns: bool = False
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "root": self.root,
            "drop_user": self.drop_user,
            "user_namespace": self.userns,
            "network_namespace": self.netns,
            "mount_namespace": self.mountns,
            "notes": self.notes,
        }


def probe(drop_user: str = "nobody") -> Capabilities:
    """Probe in a throwaway child which namespaces work (unshare changes the calling process)."""
    caps = Capabilities(root=os.geteuid() == 0)
    if caps.root:
        try:
            pwd.getpwnam(drop_user)
            caps.drop_user = drop_user
        except KeyError:
            caps.notes.append(f"user {drop_user!r} not found: calls run as root")
    for name, flags in (("netns", CLONE_NEWNET), ("mountns", CLONE_NEWNS)):
        if not caps.root:
            flags |= CLONE_NEWUSER
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            try:
                unshare(flags)
                os._exit(0)
            except BaseException:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        ok = os.waitstatus_to_exitcode(status) == 0
        setattr(caps, name, ok)
        if not caps.root and ok:
            caps.userns = True
    if not caps.netns:
        caps.notes.append("network namespaces unavailable: tools can reach the network")
    return caps


@dataclass
class Limits:
    timeout_s: float
    memory_mb: int
    max_file_bytes: int
    max_open_files: int = 64
    max_processes: int = 64


def _enter_user_namespace(flags: int) -> None:
    uid, gid = os.getuid(), os.getgid()
    unshare(CLONE_NEWUSER | flags)
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"0 {gid} 1")


def unreachable_for_others(path: str) -> bool:
    """True if a user who is neither owner nor group member cannot read ``path`` (a directory)."""
    path = os.path.abspath(path)
    if not os.path.isdir(path):
        return False
    parts = path.split(os.sep)
    for i in range(2, len(parts) + 1):
        mode = os.stat(os.sep.join(parts[:i]) or "/").st_mode
        if not mode & stat.S_IXOTH:
            return True
    return not os.stat(path).st_mode & stat.S_IROTH


def _private_mounts(workdir: str, hidden_paths: list[str], expose: list[str]) -> list[str]:
    """Private /tmp, /var/tmp, /dev/shm; hidden paths under empty read-only tmpfs; workdir at /tmp/work.

    ``expose`` lists directories the unprivileged user could not otherwise reach (an interpreter's standard
    library under /root, say); each is bind-mounted read-only under /tmp/.expose/N and the new paths are
    returned in the same order.
    """
    work_fd = os.open(workdir, os.O_PATH | os.O_DIRECTORY)
    expose_fds = [os.open(p, os.O_PATH | os.O_DIRECTORY) for p in expose]
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    for path in PRIVATE_TMP_DIRS:
        if os.path.isdir(path):
            mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    for path in hidden_paths:
        if os.path.isdir(path):
            mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0755")
    os.mkdir(WORK_MOUNT, 0o755)
    mount(f"/proc/self/fd/{work_fd}", WORK_MOUNT, None, MS_BIND)
    os.close(work_fd)
    exposed: list[str] = []
    if expose_fds:
        os.mkdir(EXPOSE_DIR, 0o755)
    for i, fd in enumerate(expose_fds):
        target = os.path.join(EXPOSE_DIR, str(i))
        os.mkdir(target, 0o755)
        mount(f"/proc/self/fd/{fd}", target, None, MS_BIND)
        mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
        os.close(fd)
        exposed.append(target)
    return exposed


def apply(
    caps: Capabilities,
    *,
    workdir: str,
    limits: Limits,
    network: bool,
    hidden_paths: list[str],
    expose: Sequence[str] = (),
    node_heap: bool = False,
) -> tuple[str, list[str]]:
    """Isolate the calling (worker) process.

    Returns the working directory the tool sees and where each ``expose`` directory can be read.
    """
    ns_flags = 0
    if caps.netns and not network:
        ns_flags |= CLONE_NEWNET
    if caps.mountns:
        ns_flags |= CLONE_NEWNS
    if ns_flags:
        if caps.root:
            unshare(ns_flags)
        else:
            _enter_user_namespace(ns_flags)
    exposed = list(expose)
    cwd = workdir
    if caps.mountns:
        exposed = _private_mounts(workdir, hidden_paths, list(expose))
        cwd = WORK_MOUNT
    os.chdir(cwd)

    cpu_s = int(limits.timeout_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    mem = limits.memory_mb << 20
    if node_heap:  # V8 reserves about 1 GiB of address space up front; its heap is capped by a flag
        mem += 1 << 30
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_bytes, limits.max_file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.max_open_files, limits.max_open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    if caps.root and caps.drop_user:
        user = pwd.getpwnam(caps.drop_user)
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))
        os.setgroups([])
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
    return cwd, exposed


def tool_environment(cwd: str, declared: dict[str, str]) -> dict[str, str]:
    """The whole environment a tool sees: its declared variables plus a minimal PATH/HOME/LANG."""
    env = {"PATH": MINIMAL_PATH, "HOME": cwd, "LANG": "C.UTF-8", "TMPDIR": "/tmp"}
    env.update(declared)
    return env
