"""One connection to the tool server: a monitor process that keeps warm sandboxes and forks a handler per request.

A connection carries requests one after another (the client keeps a few open). The monitor never reads them: for
each request it forks a handler (handler.py) that reads it, runs it and answers, so the process sandboxes are
forked from never held another call's data. Meanwhile the monitor keeps one *warm* sandbox per runtime this
connection has used: a complete sandbox (its own namespaces, uid, root and tmpfs) whose runtime (node, or a forked
Python) has started and waits for a job on stdin. A handler hands the next call with the same memory and disk
limits to it; the monitor starts a fresh one once the connection has been idle for ``REFILL_AFTER_S``. A warm
sandbox runs exactly one call and dies: nothing is reused between calls.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket

import collect
from handler import BadRequest, Handler, launch, runtime_plan
from jail.limits import Limits
from jail.spawn import Running
from jail.uids import PoolExhausted
from state import ServerState

REFILL_AFTER_S = 0.05  # idle time before a warm sandbox is (re)started
MAX_REPORT_BYTES = 65536


class Monitor:
    def __init__(self, state: ServerState, sock: socket.socket) -> None:
        self.state = state
        self.sock = sock
        self.warm: dict[str, tuple[Running, Limits]] = {}  # runtime → a started sandbox waiting for its job
        self.want_warm: dict[str, Limits] = {}  # runtimes this connection has used, with their limits

    def serve(self) -> None:  # pragma: no cover - runs in a monitor process
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            while self._wait_idle() and self._one_request():
                pass
        finally:
            self._drop_warm()

    def _one_request(self) -> bool:  # pragma: no cover - runs in a monitor process
        """Fork a handler for the next request and take its report; False when the connection is over."""
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            code = 0
            try:
                report = Handler(self.state, self.sock, self.warm).run()
            except BaseException:
                report, code = {"closed": True, "consumed": list(self.warm)}, 1
            with contextlib.suppress(OSError):
                os.write(w, json.dumps(report).encode())
            os._exit(code)
        os.close(w)
        raw = b""
        while chunk := os.read(r, MAX_REPORT_BYTES):
            raw += chunk
        os.close(r)
        os.waitpid(pid, 0)
        try:
            report = json.loads(raw)
        except ValueError:
            report = {"closed": True, "consumed": list(self.warm)}
        for runtime in report.get("consumed", []):
            slot = self.warm.pop(runtime, None)
            if slot is not None:
                collect.reap(slot[0])
        for runtime, (memory_mb, disk_mb) in report.get("want", {}).items():
            self.want_warm[runtime] = Limits(timeout_s=self.state.max_timeout_s, memory_mb=memory_mb,
                                             disk_mb=disk_mb)
        return not report.get("closed")

    def _wait_idle(self) -> bool:
        """Wait until the next request is there, keeping warm sandboxes ready meanwhile.

        A refill starts only once the connection has been idle for ``REFILL_AFTER_S``: a client sending calls back
        to back would otherwise have each call compete for the CPU with the next call's warm-up. A warm sandbox that
        dies while waiting is replaced.
        """
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ)
        try:
            if sel.select(REFILL_AFTER_S):
                return True
            while True:
                self._refill()
                for runtime, (running, _) in self.warm.items():
                    sel.register(running.worker_pidfd, selectors.EVENT_READ, runtime)
                ready = sel.select()
                for runtime in {key.data for key, _ in ready if key.data is not None}:
                    running, _ = self.warm.pop(runtime)
                    collect.reap(running)
                if any(key.data is None for key, _ in ready):
                    return True
                for key in list(sel.get_map().values()):
                    if key.data is not None:
                        sel.unregister(key.fileobj)
        finally:
            sel.close()

    def _refill(self) -> None:
        if not self.state.warm:
            return
        for runtime, limits in self.want_warm.items():
            if runtime in self.warm or (runtime == "typescript" and self.state.node is None):
                continue
            try:
                self.warm[runtime] = (launch(self.state, runtime_plan(self.state, runtime, limits)), limits)
            except (PoolExhausted, OSError, BadRequest):
                continue

    def _drop_warm(self) -> None:
        for running, _ in self.warm.values():
            collect.reap(running)
        self.warm.clear()
