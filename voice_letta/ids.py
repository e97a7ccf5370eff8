"""Identifiers: a readable prefix plus 32 hex digits, e.g. ``msg-0193a1f2c4d17c0e…``.

The digits are the creation time in milliseconds (48 bits, as in a UUIDv7) followed by 80 random bits from the
operating system's CSPRNG. Time first keeps each new row's entry at the end of the id indexes (messages, turns,
passages): with fully random ids every insert dirtied a random page of each, i.e. more pages written per
transaction. 80 random bits per millisecond keep ids unguessable and collision-free. The random bytes are read
from ``os.urandom`` in blocks rather than one syscall per id; a forked child starts with a fresh block.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import time
import uuid

WORKER_ID_ENV = "VOICE_LETTA_WORKER_ID"
_BLOCK = 4096  # random bytes read at once: 409 ids per getrandom() syscall


class _Entropy:
    """``os.urandom`` read in blocks; thread-safe, and reset in a forked child (which must not repeat the parent's)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buf = b""
        self._pos = 0

    def take(self, n: int) -> bytes:
        with self._lock:
            if self._pos + n > len(self._buf):
                self._buf, self._pos = os.urandom(_BLOCK), 0
            out = self._buf[self._pos:self._pos + n]
            self._pos += n
            return out

    def reset(self) -> None:
        self._lock = threading.Lock()
        self._buf, self._pos = b"", 0


_ENTROPY = _Entropy()
os.register_at_fork(after_in_child=_ENTROPY.reset)


def random_hex(nbytes: int) -> str:
    return _ENTROPY.take(nbytes).hex()


def new_id(prefix: str) -> str:
    return f"{prefix}-{time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF:012x}{_ENTROPY.take(10).hex()}"


def agent_id() -> str:
    return new_id("agent")


def block_id() -> str:
    return new_id("block")


def message_id() -> str:
    return new_id("msg")


def passage_id() -> str:
    return new_id("passage")


def tool_id() -> str:
    return new_id("tool")


def turn_id() -> str:
    return new_id("turn")


def tool_call_id() -> str:
    return f"call_{random_hex(12)}"


def completion_id() -> str:
    return f"chatcmpl-{random_hex(16)}"


@functools.cache
def worker_id() -> str:
    """This server process among all that share a database: host, pid and a random part (or, in a worker that
    ``serve --workers`` started, the id its supervisor gave it in ``VOICE_LETTA_WORKER_ID``)."""
    return os.environ.get(WORKER_ID_ENV) or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
