"""Helper processes die with the process that started them, even when it is killed with SIGKILL.

A killed server runs no cleanup, so each helper (the background embedding process, ``serve --workers``'s
workers) must notice on its own: Linux's ``PR_SET_PDEATHSIG`` where available, else a thread that watches for
the parent changing. The parent's pid must come **from the parent** (an argument, or ``VOICE_LETTA_PARENT_PID``
in the environment it gave the child): a child that reads ``os.getppid()`` itself may run after the parent is
already gone, read 1 (or a subreaper), take that for its parent and outlive the server for good.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time

PARENT_PID_ENV = "VOICE_LETTA_PARENT_PID"
PR_SET_PDEATHSIG = 1
WATCH_INTERVAL_S = 0.5


def die_with_parent(parent: int | None = None, signum: int = signal.SIGKILL) -> None:
    """Arrange for this process to get ``signum`` when ``parent`` (default: $VOICE_LETTA_PARENT_PID, else the
    current parent) dies; exit at once if it already has."""
    if parent is None:
        given = os.environ.get(PARENT_PID_ENV, "")
        parent = int(given) if given.isascii() and given.isdigit() else os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0:
            if os.getppid() != parent:  # the parent died before (or while) this was set up
                os._exit(1)
            return
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_INTERVAL_S)
        with contextlib.suppress(ProcessLookupError):
            os.kill(os.getpid(), signum)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def child_init(parent: int, *env: str) -> None:
    """A ``ProcessPoolExecutor`` initializer: set ``env`` (name, value, name, value, …) before anything imports
    numpy, then ``die_with_parent(parent)``. Imports nothing heavy."""
    for name, value in zip(env[::2], env[1::2], strict=True):
        os.environ[name] = value
    die_with_parent(parent)
