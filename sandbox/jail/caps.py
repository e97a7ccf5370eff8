"""What isolation this machine gives, probed once when the tool server starts, and the level it adds up to.

Levels (docs/sandbox.md):
    strict    PID, mount, network, IPC and UTS namespaces, the minimal root, seccomp, and a uid of its own per call
    standard  namespaces and the minimal root, but one uid for every call (no root: a user namespace) or no
              seccomp (no libseccomp bindings)
    basic     no namespaces: a clean environment, rlimits, the timeout, an unprivileged user if the server is root;
              tools see the host's files and network
Resource limits come from cgroup v2 where delegated, else rlimits; that is reported beside the level.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from typing import Any

from jail import kernel as k
from jail.limits import CgroupParent
from jail.syscalls import Filter

LEVELS = ("basic", "standard", "strict")


@dataclass
class Capabilities:
    root: bool = False
    user_namespace: bool = False  # not root: every namespace is made inside a user namespace
    pid_namespace: bool = False
    network_namespace: bool = False
    mount_namespace: bool = False  # and with it the minimal root
    uid_per_call: bool = False
    seccomp: Filter | None = None
    cgroup: CgroupParent | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def level(self) -> str:
        namespaces = self.pid_namespace and self.mount_namespace and self.network_namespace
        if not namespaces:
            return "basic"
        if self.uid_per_call and self.seccomp is not None:
            return "strict"
        return "standard"

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "root": self.root,
            "user_namespace": self.user_namespace,
            "pid_namespace": self.pid_namespace,
            "network_namespace": self.network_namespace,
            "mount_namespace": self.mount_namespace,
            "minimal_root": self.mount_namespace,
            "uid_per_call": self.uid_per_call,
            "seccomp": self.seccomp.library if self.seccomp is not None else None,
            "limits": "cgroup2" if self.cgroup is not None and self.cgroup.path else "rlimit",
            "cgroup": self.cgroup.path if self.cgroup is not None else None,
            "notes": self.notes,
        }


def _try_in_child(fn: Any) -> str | None:
    """Run ``fn`` in a throwaway child (namespaces change the caller); None if it worked, else the error."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(r)
        try:
            fn()
            os._exit(0)
        except BaseException as exc:
            os.write(w, f"{type(exc).__name__}: {exc}".encode()[:500])
            os._exit(1)
    os.close(w)
    message = b""
    while chunk := os.read(r, 512):
        message += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    return None if os.waitstatus_to_exitcode(status) == 0 else (message.decode(errors="replace") or "failed")


def _userns() -> None:
    uid, gid = os.getuid(), os.getgid()
    k.unshare(k.CLONE_NEWUSER)
    k.write_file("/proc/self/setgroups", "deny")
    k.write_file("/proc/self/uid_map", f"0 {uid} 1")
    k.write_file("/proc/self/gid_map", f"0 {gid} 1")


def probe(*, cgroup: str | None = None) -> Capabilities:
    """Which namespaces unshare here; the full sandbox is then tried for real by the tool server (``confirm``)."""
    caps = Capabilities(root=os.geteuid() == 0)
    if not caps.root:
        err = _try_in_child(_userns)
        caps.user_namespace = err is None
        if err:
            caps.notes.append(f"not root and no user namespaces ({err}): no namespaces")
    prefix = (lambda: None) if caps.root else _userns
    for name, flag in (("pid_namespace", k.CLONE_NEWPID), ("network_namespace", k.CLONE_NEWNET),
                       ("mount_namespace", k.CLONE_NEWNS)):
        if not caps.root and not caps.user_namespace:
            break

        def attempt(flag: int = flag) -> None:
            prefix()
            k.unshare(flag)

        err = _try_in_child(attempt)
        setattr(caps, name, err is None)
        if err:
            caps.notes.append(f"{name.replace('_', ' ')} unavailable: {err}")
    caps.uid_per_call = caps.root
    if not caps.root:
        caps.notes.append("not root: every call runs as the server's uid (inside its own user namespace)")
    seccomp_filter, why = _build_filter()
    caps.seccomp = seccomp_filter
    if why:
        caps.notes.append(why)
    caps.cgroup = CgroupParent(cgroup)
    if caps.cgroup.reason:
        caps.notes.append(caps.cgroup.reason)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    return caps


def _build_filter() -> tuple[Filter | None, str]:
    from jail import syscalls

    flt, why = syscalls.build()
    if flt is None:
        return None, why
    err = _try_in_child(flt.load)
    if err:
        return None, f"seccomp cannot be loaded here: {err}"
    return flt, ""
