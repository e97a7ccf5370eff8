"""No helper process outlives the server: the background embedding process and serve's workers die with their
parent, even one killed with SIGKILL, even when it died before the helper had started."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import pytest

from voice_letta.procs import child_init

PARENT = """
import multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from voice_letta.procs import child_init
pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                           initializer=child_init, initargs=(os.getpid(), "OPENBLAS_NUM_THREADS", "1"))
print(pool.submit(os.getpid).result(), flush=True)
time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a reaped-soon zombie counts as gone
        return f.read().rsplit(")", 1)[-1].split()[0] != "Z"


def test_the_helper_dies_with_a_parent_killed_by_sigkill() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert alive(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=5)
        deadline = time.monotonic() + 5
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(child):
            os.kill(child, signal.SIGKILL)
            pytest.fail("the helper outlived its killed parent")
    finally:
        if parent.poll() is None:
            parent.kill()


def test_a_helper_whose_parent_is_already_gone_exits_at_once() -> None:
    # What a child that read os.getppid() itself could not see: it was told who its parent is, and that
    # process is not its parent (here: a pid that never was), so it exits instead of running on as an orphan.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=child_init, initargs=(gone.pid,))
    try:
        with pytest.raises(BrokenProcessPool):
            pool.submit(os.getpid).result(timeout=60)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
