"""The minimal root a call runs in: built by the call's init (root, in a fresh mount namespace), then pivoted to.

    /            tmpfs skeleton, remounted read-only once built
    /usr …       read-only, nosuid, nodev binds of what the runtimes need (``RootSpec.read_only``); the merged-usr
                 symlinks /bin /lib /lib64 /sbin as on the host
    /etc         generated passwd, group, hosts; read-only binds of ld.so.cache, ssl certs, alternatives
    /dev         null zero full random urandom (binds), fd/stdin/stdout/stderr links, shm
    /proc        a fresh procfs of the call's PID namespace (only the call's processes)
    /tmp /var/tmp /dev/shm /run/lock
                 directories of ONE tmpfs of ``disk_mb``: the call's whole disk quota; /tmp/work is its cwd

Everything else of the host (home directories, /srv, /run, /var, sockets, the database) is simply absent.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field

from jail import kernel as k

WORK_DIR = "/tmp/work"
QUOTA_DIRS = {"/tmp": 0o1777, "/var/tmp": 0o1777, "/dev/shm": 0o1777, "/run/lock": 0o1777}
DEVICES = ("null", "zero", "full", "random", "urandom")
ETC_BINDS = ("/etc/ld.so.cache", "/etc/ssl/certs", "/etc/ssl/openssl.cnf", "/etc/alternatives", "/etc/mime.types")
MERGED_USR = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
HOSTNAME = "sandbox"


@dataclass
class RootSpec:
    stage: str  # an existing empty directory on the host to build the root on (private to the mount namespace)
    read_only: Sequence[str]  # host paths bound read-only at the same place
    hidden: Sequence[str] = ()  # covered by an empty read-only tmpfs wherever they fall inside ``read_only``
    disk_mb: int = 64
    inodes: int = 4096
    uid: int = 0
    gid: int = 0
    notes: list[str] = field(default_factory=list)


def _mkdirs(path: str, mode: int = 0o755) -> None:
    os.makedirs(path, mode=mode, exist_ok=True)


def _touch(path: str) -> None:
    _mkdirs(os.path.dirname(path))
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def _bind_at(stage: str, host_path: str, *, readonly: bool = True) -> bool:
    """Bind ``host_path`` (resolved) at the same path under ``stage``. False if it does not exist."""
    real = os.path.realpath(host_path)
    if not os.path.exists(real):
        return False
    target = stage + real
    if os.path.isdir(real):
        _mkdirs(target)
    else:
        _touch(target)
    k.bind(real, target, readonly=readonly)
    return True


def _etc(stage: str, uid: int, gid: int) -> None:
    _mkdirs(f"{stage}/etc")
    with open(f"{stage}/etc/passwd", "w", encoding="utf-8") as f:
        f.write(f"root:x:0:0:root:/:/usr/sbin/nologin\ntool:x:{uid}:{gid}:tool:{WORK_DIR}:/usr/sbin/nologin\n"
                "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
    with open(f"{stage}/etc/group", "w", encoding="utf-8") as f:
        f.write(f"root:x:0:\ntool:x:{gid}:\nnogroup:x:65534:\n")
    with open(f"{stage}/etc/hosts", "w", encoding="utf-8") as f:
        f.write(f"127.0.0.1 localhost {HOSTNAME}\n::1 localhost ip6-localhost\n")
    with open(f"{stage}/etc/nsswitch.conf", "w", encoding="utf-8") as f:
        f.write("passwd: files\ngroup: files\nhosts: files dns\n")
    for path in ETC_BINDS:
        if os.path.exists(path):
            _bind_at(stage, path)
    if os.path.islink("/etc/localtime"):
        os.symlink(os.readlink("/etc/localtime"), f"{stage}/etc/localtime")


def _dev(stage: str) -> None:
    for name in DEVICES:
        _touch(f"{stage}/dev/{name}")
        k.mount(f"/dev/{name}", f"{stage}/dev/{name}", None, k.MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{stage}/dev/{name}")


def _quota(stage: str, spec: RootSpec) -> None:
    """One tmpfs for every writable place, so ``disk_mb`` is the call's total; then its mount point goes away."""
    pool = f"{stage}/.quota"
    _mkdirs(pool)
    k.mount("tmpfs", pool, "tmpfs", k.MS_NOSUID | k.MS_NODEV,
            f"size={spec.disk_mb}m,nr_inodes={spec.inodes},mode=0755")
    for path, mode in QUOTA_DIRS.items():
        source = f"{pool}/{path.strip('/').replace('/', '-')}"
        os.mkdir(source)
        os.chmod(source, mode)
        _mkdirs(stage + path)
        k.mount(source, stage + path, None, k.MS_BIND)
    work = stage + WORK_DIR
    os.mkdir(work, 0o700)
    os.chown(work, spec.uid, spec.gid)
    k.umount(pool)
    os.rmdir(pool)


def build(spec: RootSpec) -> None:
    """Build the root on ``spec.stage`` and pivot into it; the caller must be alone in a new mount namespace."""
    stage = spec.stage
    k.mount(None, "/", None, k.MS_REC | k.MS_PRIVATE)
    k.mount("tmpfs", stage, "tmpfs", k.MS_NOSUID, "size=4m,nr_inodes=4096,mode=0755")
    for name in ("dev", "proc", "run", "var", "etc", ".old"):
        _mkdirs(f"{stage}/{name}")
    for name in MERGED_USR:
        host = f"/{name}"
        if os.path.islink(host):
            os.symlink(os.readlink(host), f"{stage}/{name}")
        elif os.path.isdir(host):  # a distribution without merged /usr
            _bind_at(stage, host)
    _quota(stage, spec)
    for path in sorted(set(spec.read_only), key=len):
        if not _bind_at(stage, path):
            spec.notes.append(f"{path} does not exist")
    for path in spec.hidden:
        target = stage + os.path.realpath(path)
        if os.path.isdir(target):
            k.mount("tmpfs", target, "tmpfs", k.MS_RDONLY | k.MS_NOSUID | k.MS_NODEV, "size=4k,mode=0755")
        elif os.path.isfile(target):
            k.mount("/dev/null", target, None, k.MS_BIND)
    _etc(stage, spec.uid, spec.gid)
    _dev(stage)
    k.mount("proc", f"{stage}/proc", "proc", k.MS_NOSUID | k.MS_NODEV | k.MS_NOEXEC)
    k.pivot_root(stage, f"{stage}/.old")
    os.chdir("/")
    k.umount("/.old")
    os.rmdir("/.old")
    k.mount(None, "/", None, k.MS_REMOUNT | k.MS_BIND | k.MS_RDONLY | k.MS_NOSUID)
    socket.sethostname(HOSTNAME)
    os.chdir(WORK_DIR)
