"""The seccomp filter every tool process gets, built with libseccomp (its own Python bindings when importable,
else ``pyseccomp``, a ctypes binding with the same API).

Default: allow. Denied with EPERM: the calls that reach kernel surface a tool never needs and that sandbox escapes
use (ptrace and cross-process memory, mounts, namespaces, BPF, keyrings, kernel modules and kexec, perf, userfaultfd,
io_uring, handle-based opens, clock and time setters). ``clone`` with any CLONE_NEW* flag is denied; ``clone3``
answers ENOSYS so libc falls back to ``clone``, whose flags a filter can read. Sockets other than Unix, IPv4, IPv6
and netlink answer EAFNOSUPPORT (AF_VSOCK is not namespaced: in a VM it reaches the hypervisor). A syscall of
another architecture's ABI (int 0x80, x32) kills the process (libseccomp's bad-arch action).

The filter is built once in the tool server and loaded (``no_new_privs`` set by libseccomp) by each tool process.
"""

from __future__ import annotations

import errno
from typing import Any

from jail import kernel as k

DENIED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
    "open_tree", "mount_setattr",
    "unshare", "setns",
    "bpf", "perf_event_open", "userfaultfd",
    "keyctl", "add_key", "request_key",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
    "swapon", "swapoff", "acct", "syslog", "quotactl", "lookup_dcookie", "vhangup",
    "open_by_handle_at", "name_to_handle_at",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "iopl", "ioperm", "fanotify_init", "nfsservctl", "uselib",
)
# personality() flags that weaken the address space of what the tool executes next
DENIED_PERSONALITY = (0x0040000, 0x0100000, 0x0400000)  # ADDR_NO_RANDOMIZE, MMAP_PAGE_ZERO, READ_IMPLIES_EXEC
ALLOWED_SOCKET_FAMILIES = (1, 2, 10, 16)  # AF_UNIX, AF_INET, AF_INET6, AF_NETLINK
MAX_SOCKET_FAMILY = 64


def _bindings() -> Any:
    try:
        import seccomp  # libseccomp's own (Cython) bindings, e.g. Debian's python3-seccomp
    except ImportError:
        import pyseccomp as seccomp  # ctypes over libseccomp.so.2, same API
    return seccomp


class Filter:
    """A compiled-once filter; ``load()`` installs it in the calling process (irreversible)."""

    def __init__(self) -> None:
        sc = _bindings()
        self.library = sc.__name__
        flt = sc.SyscallFilter(sc.ALLOW)
        skipped: list[str] = []
        for name in DENIED:
            try:
                flt.add_rule(sc.ERRNO(errno.EPERM), name)
            except (ValueError, RuntimeError, OSError):  # a syscall this architecture does not have
                skipped.append(name)
        flt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
        for flag in DENIED_PERSONALITY:
            flt.add_rule(  # bit 31 clear: personality(0xffffffff) only asks, it sets nothing
                sc.ERRNO(errno.EPERM), "personality", sc.Arg(0, sc.MASKED_EQ, flag | 0x80000000, flag)
            )
        for flag in k.NAMESPACE_FLAGS:
            flt.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
        for family in range(MAX_SOCKET_FAMILY):
            if family not in ALLOWED_SOCKET_FAMILIES:
                flt.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socket", sc.Arg(0, sc.EQ, family))
        flt.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socket", sc.Arg(0, sc.GE, MAX_SOCKET_FAMILY))
        self._filter = flt
        self.skipped = skipped

    def load(self) -> None:
        self._filter.load()


def build() -> tuple[Filter | None, str]:
    """The filter, or None and why not (no libseccomp, no bindings, a kernel without seccomp)."""
    try:
        return Filter(), ""
    except ImportError:
        return None, "no libseccomp Python bindings (pip install pyseccomp)"
    except OSError as exc:  # libseccomp.so.2 missing
        return None, f"libseccomp unavailable: {exc}"
