"""A pool of host uids, one per live sandbox, so concurrent calls never share a uid.

Slots are lock files under the pool directory; a slot is taken with a non-blocking ``flock`` on its file and is
free again when every descriptor of that open file is closed (also when the holder dies). The monitor that runs a
call holds its slot until the call's worker has been reaped, which is after every process of the call's PID
namespace has exited, so a uid is never handed out while a process still runs under it.

The default range starts at 0x70000000: above systemd-nspawn's container ranges (which end below 0x6FFF0000) and
the usual /etc/subuid ranges, and below 2^31 for programs that keep uids in a signed int.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
from dataclasses import dataclass

DEFAULT_BASE = 0x70000000
DEFAULT_COUNT = 1024


class PoolExhausted(Exception):
    pass


@dataclass
class Lease:
    uid: int
    fd: int

    def release(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


class UidPool:
    def __init__(self, directory: str, base: int = DEFAULT_BASE, count: int = DEFAULT_COUNT) -> None:
        self.directory = directory
        self.base = base
        self.count = count
        os.makedirs(directory, mode=0o700, exist_ok=True)

    def acquire(self) -> Lease:
        start = random.randrange(self.count)
        for i in range(self.count):
            slot = (start + i) % self.count
            fd = os.open(os.path.join(self.directory, str(slot)), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return Lease(self.base + slot, fd)
        raise PoolExhausted(f"all {self.count} sandbox uids are in use")
