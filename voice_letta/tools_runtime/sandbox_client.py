"""Runs the sandbox tool server (``sandbox/tool_server.py``) and calls tools in it over its Unix socket.

``SandboxSupervisor`` starts the tool server as a child process with an empty environment, waits for its
``ready`` line, and restarts it (with backoff) whenever it exits; a crash of the tool server never
reaches the caller as anything but a retried connection. ``SandboxExecutor`` implements ``ToolExecutor``
for CUSTOM tools: one connection and one newline-delimited JSON request per call (protocol v1, see
docs/sandbox_protocol.md).

The supervisor owns one watcher task, created in ``start`` and cancelled in ``aclose``.
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
import time
from pathlib import Path
from typing import Any

from voice_letta.agent.models import Tool
from voice_letta.agent.ports import ToolResult
from voice_letta.errors import ToolError
from voice_letta.tools_runtime.validation import check_arguments, format_error, format_output

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
SANDBOX_DIR = Path(__file__).resolve().parents[2] / "sandbox"
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
DEFAULT_MEMORY_MB = 256
DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024
DEFAULT_MAX_RESULT_BYTES = 256 * 1024
START_TIMEOUT_S = 20.0
RESTART_BACKOFF_S = (0.05, 0.2, 1.0, 5.0)
RECONNECT_DELAYS_S = (0.05, 0.2, 0.5, 1.0)


class _NoAnswer(ConnectionError):
    pass


class SandboxSupervisor:
    """Starts, watches and restarts the tool-server process.

    ``hidden_paths`` are directories mounted over by an empty read-only tmpfs in every call (the
    server's data directory, say) when mount namespaces are available.
    """

    def __init__(
        self,
        *,
        socket_path: Path | None = None,
        work_root: Path | None = None,
        python: str | None = None,
        sandbox_dir: Path = SANDBOX_DIR,
        hidden_paths: tuple[Path, ...] = (),
    ) -> None:
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
        self.hidden_paths = hidden_paths
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

    async def start(self) -> None:
        async with self._lock:
            await self._spawn()
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch(), name="sandbox-supervisor")

    async def _spawn(self) -> None:
        self._ready.clear()
        args = [
            self.python,
            "-E",
            "-s",
            str(self.sandbox_dir / "tool_server.py"),
            "--socket",
            str(self.socket_path),
            "--work-root",
            str(self.work_root),
        ]
        for path in self.hidden_paths:
            args += ["--hide", str(path)]
        # No inherited environment: the tool server never holds the server's secrets.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        proc = await asyncio.create_subprocess_exec(
            *args,
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
        log.info("sandbox tool server ready (pid %s, isolation %s)", proc.pid, self.isolation)

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
            delay = RESTART_BACKOFF_S[min(failures, len(RESTART_BACKOFF_S) - 1)]
            await asyncio.sleep(delay)
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


class SandboxExecutor:
    """``ToolExecutor`` for CUSTOM tools (Python and TypeScript) run in the sandbox tool server."""

    def __init__(
        self,
        supervisor: SandboxSupervisor,
        *,
        memory_mb: int = DEFAULT_MEMORY_MB,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
        network: bool = False,
    ) -> None:
        self.supervisor = supervisor
        self.memory_mb = memory_mb
        self.max_output_bytes = max_output_bytes
        self.max_result_bytes = max_result_bytes
        self.network = network

    def request_for(self, tool: Tool, arguments: dict[str, Any], call_id: str) -> dict[str, Any]:
        if tool.source_type not in ("python", "typescript") or tool.source_code is None:
            raise ToolError(f"tool {tool.name!r} has no Python or TypeScript source", code="invalid_tool")
        return {
            "v": PROTOCOL_VERSION,
            "op": "call",
            "id": call_id,
            "runtime": tool.source_type,
            "source": tool.source_code,
            "entrypoint": tool.name,
            "args": arguments,
            "arg_order": list(tool.parameters.get("properties", {})),
            "env": dict(tool.options.env),
            "network": self.network,
            "limits": {
                "timeout_s": tool.options.timeout_s,
                "memory_mb": self.memory_mb,
                "max_output_bytes": self.max_output_bytes,
                "max_result_bytes": self.max_result_bytes,
            },
        }

    async def call_raw(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send one request and return the decoded response.

        A connection refused or reset before any answer means the tool server died under us (a monitor
        that accepted the call never dies with it): wait for the supervisor's restart and try again.
        """
        line = json.dumps(request, ensure_ascii=False).encode() + b"\n"
        for delay_s in (*RECONNECT_DELAYS_S, None):
            await self.supervisor.wait_ready()
            try:
                return await self._exchange(line, timeout_s)
            except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError, BrokenPipeError, _NoAnswer) as exc:
                if delay_s is None:
                    raise ToolError("the sandbox tool server is not reachable", code="sandbox_unavailable") from exc
                log.info("sandbox connection failed (%r); retrying", exc)
                await asyncio.sleep(delay_s)
        raise AssertionError("unreachable")

    async def _exchange(self, line: bytes, timeout_s: float) -> dict[str, Any]:
        reader, writer = await asyncio.open_unix_connection(str(self.supervisor.socket_path), limit=MAX_RESPONSE_BYTES)
        try:
            writer.write(line)
            await writer.drain()
            async with asyncio.timeout(timeout_s):
                raw = await reader.readline()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        if not raw:
            raise _NoAnswer("the sandbox closed the connection without an answer")
        response: dict[str, Any] = json.loads(raw)
        if response.get("v") != PROTOCOL_VERSION:
            raise ToolError(f"sandbox answered protocol {response.get('v')!r}", code="sandbox_error")
        return response

    async def execute(self, tool: Tool, arguments: dict[str, Any]) -> ToolResult:
        started = time.monotonic()
        try:
            args = check_arguments(tool, arguments)
            request = self.request_for(tool, args, f"{tool.id}:{int(started * 1000)}")
            response = await self.call_raw(request, tool.options.timeout_s + 10.0)
        except ToolError as exc:
            return format_error(exc.code, exc.message, started)
        except TimeoutError:
            return format_error("Timeout", "the sandbox did not answer in time", started)
        except (OSError, ValueError) as exc:
            return format_error("SandboxError", f"{type(exc).__name__}: {exc}", started)
        duration_ms = float(response.get("duration_ms") or (time.monotonic() - started) * 1000.0)
        if response.get("ok"):
            return ToolResult(ok=True, output=format_output(response.get("result")), duration_ms=duration_ms)
        error = response.get("error") or {}
        return ToolResult(
            ok=False,
            output=f"Error: {error.get('type', 'Error')}: {error.get('message', '')}",
            error=str(error.get("type", "Error")),
            duration_ms=duration_ms,
        )
