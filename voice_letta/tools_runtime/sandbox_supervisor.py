"""Runs the sandbox tool server (``sandbox/tool_server.py``) as a supervised child process.

``SandboxSupervisor`` starts the tool server with an empty environment, waits for its ``ready`` line (which says
what isolation the machine gives: docs/sandbox.md), refuses to go on below the configured minimum level, logs the
level in force, and restarts the server (with backoff) whenever it exits. It owns one watcher task, created in
``start`` and cancelled in ``aclose``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from voice_letta.config import SANDBOX_LEVELS, SandboxSettings
from voice_letta.errors import ConfigError, ToolError

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 2
SANDBOX_DIR = Path(__file__).resolve().parents[2] / "sandbox"
START_TIMEOUT_S = 30.0
RESTART_BACKOFF_S = (0.05, 0.2, 1.0, 5.0)


class SandboxSupervisor:
    """Starts, watches and restarts the tool-server process.

    ``hidden_paths`` (added to the settings' own) are never visible inside a sandbox: the server's data directory
    is passed here. ``socket_path``/``work_root`` default to a fresh private directory.
    """

    def __init__(
        self,
        settings: SandboxSettings | None = None,
        *,
        hidden_paths: tuple[Path, ...] = (),
        socket_path: Path | None = None,
        work_root: Path | None = None,
        python: str | None = None,
        sandbox_dir: Path = SANDBOX_DIR,
    ) -> None:
        self.settings = settings or SandboxSettings()
        self._own_dir: str | None = None
        if socket_path is None or work_root is None:
            # A short private directory: Unix socket paths are limited to about 100 bytes.
            self._own_dir = tempfile.mkdtemp(prefix="vl-sandbox-")
            os.chmod(self._own_dir, 0o711)
        base = Path(self._own_dir) if self._own_dir else None
        self.socket_path = socket_path or (base / "tools.sock")  # type: ignore[operator]
        self.work_root = work_root or (base / "work")  # type: ignore[operator]
        self.python = python or sys.executable
        self.sandbox_dir = sandbox_dir
        self.hidden_paths = (*hidden_paths, *self.settings.hidden_paths)
        self.restarts = 0
        self.isolation: dict[str, Any] = {}
        self._proc: asyncio.subprocess.Process | None = None
        self._ready = asyncio.Event()
        self._lock = asyncio.Lock()
        self._watcher: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    @property
    def level(self) -> str | None:
        level = self.isolation.get("level")
        return str(level) if level is not None else None

    def server_args(self) -> list[str]:
        s = self.settings
        args = [self.python, "-E", "-s", str(self.sandbox_dir / "tool_server.py"), "--socket", str(self.socket_path),
                "--work-root", str(self.work_root), "--max-timeout-s", f"{s.timeout_s:g}"]
        for path in self.hidden_paths:
            args += ["--hide", str(path)]
        for path in s.expose_paths:
            args += ["--expose", str(path)]
        for entry in s.allow_private:
            args += ["--allow-private", entry]
        if s.cgroup is not None:
            args += ["--cgroup", str(s.cgroup)]
        if s.warm == 0:
            args.append("--no-warm")
        return args

    async def start(self) -> None:
        async with self._lock:
            await self._spawn()
        try:
            self._check_level()
        except ConfigError:
            await self.aclose()
            raise
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch(), name="sandbox-supervisor")

    def _check_level(self) -> None:
        want = self.settings.isolation
        level = self.level or "basic"
        notes = "; ".join(self.isolation.get("notes") or [])
        if want != "auto" and SANDBOX_LEVELS.index(level) < SANDBOX_LEVELS.index(want):
            raise ConfigError(f"the tool sandbox gives isolation level {level!r} here, below the required {want!r}"
                              f" ({notes})")
        parts = [f"{k}={v}" for k, v in self.isolation.items() if k not in ("notes", "level")]
        if level == "strict":
            log.info("tool sandbox: isolation level strict (%s)", ", ".join(parts))
        else:
            log.warning("tool sandbox: isolation level %s (%s): %s", level, ", ".join(parts), notes)

    async def _spawn(self) -> None:
        self._ready.clear()
        # No inherited environment: the tool server never holds the server's secrets.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        proc = await asyncio.create_subprocess_exec(
            *self.server_args(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        assert proc.stdout is not None
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                line = await proc.stdout.readline()
            ready = json.loads(line)
            if ready.get("event") != "ready":
                raise ValueError(line)
        except (TimeoutError, ValueError) as exc:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise ToolError(f"the sandbox tool server did not start: {exc!r}", code="sandbox_unavailable") from exc
        self.isolation = ready.get("isolation", {})
        self._proc = proc
        self._ready.set()
        log.debug("sandbox tool server ready (pid %s)", proc.pid)

    async def _watch(self) -> None:
        failures = 0
        while not self._closing:
            proc = self._proc
            if proc is None:
                await asyncio.sleep(RESTART_BACKOFF_S[-1])
                continue
            code = await proc.wait()
            if self._closing:
                return
            self._ready.clear()
            log.warning("sandbox tool server exited with %s; restarting", code)
            await asyncio.sleep(RESTART_BACKOFF_S[min(failures, len(RESTART_BACKOFF_S) - 1)])
            try:
                async with self._lock:
                    if self._proc is proc:
                        await self._spawn()
                        self.restarts += 1
                failures = 0
            except ToolError:
                log.exception("sandbox tool server restart failed")
                failures += 1

    async def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        if self._proc is None and self._watcher is None:
            await self.start()
        try:
            async with asyncio.timeout(timeout_s):
                await self._ready.wait()
        except TimeoutError as exc:
            raise ToolError("the sandbox tool server is not available", code="sandbox_unavailable") from exc

    def status(self) -> dict[str, Any]:
        """Settings and the isolation in force (GET /v1/sandbox)."""
        s = self.settings
        return {
            "isolation": self.isolation,
            "required_level": s.isolation,
            "memory_mb": s.memory_mb,
            "disk_mb": s.disk_mb,
            "timeout_s": s.timeout_s,
            "hidden_paths": [str(p) for p in self.hidden_paths],
            "expose_paths": [str(p) for p in s.expose_paths],
            "allow_private": list(s.allow_private),
            "warm": s.warm,
            "trusted_mcp": list(s.trusted_mcp),
            "running": self.pid is not None,
            "restarts": self.restarts,
        }

    async def aclose(self) -> None:
        self._closing = True
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        proc = self._proc
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(5):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._own_dir is not None:
            await asyncio.to_thread(shutil.rmtree, self._own_dir, True)
