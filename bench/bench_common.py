"""Helpers shared by the bench scripts (import after ``sys.path`` holds ``bench/``, as a script run from it has).

Only what more than one bench module needs lives here; a bench's own measuring code stays with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository (the scripts put it on sys.path for voice_letta/tests)


def free_port() -> int:
    """A free loopback port for a server process the bench starts (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until_stdin_closes(lifetime_s: float) -> None:
    """Wait until the parent closes this process's stdin (or dies), at most ``lifetime_s``: a server process a bench
    starts stops with its parent, never outliving it."""
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(lifetime_s):
            await reader.read()
