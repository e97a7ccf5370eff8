"""Calls tools in the sandbox tool server over its Unix socket (protocol v2, docs/sandbox_protocol.md).

``SandboxExecutor`` implements ``ToolExecutor`` for CUSTOM tools and ``run`` for ``POST /v1/tools/{id}/run``.
It keeps up to ``settings.warm`` idle connections: the monitor behind each keeps a warm sandbox per runtime it
has served (a TypeScript call then skips node's start-up). A call takes an idle connection or opens one; a call
that is cancelled (a barge-in, a client that hung up) closes its connection, and the tool server kills the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any, Literal

from voice_letta.agent.models import Tool
from voice_letta.agent.ports import ToolResult
from voice_letta.config import SandboxSettings
from voice_letta.errors import ToolError
from voice_letta.tools_runtime.sandbox_supervisor import PROTOCOL_VERSION, SandboxSupervisor
from voice_letta.tools_runtime.tool_run import ToolRun
from voice_letta.tools_runtime.validation import check_arguments, format_error

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024
DEFAULT_MAX_RESULT_BYTES = 256 * 1024
RECONNECT_DELAYS_S = (0.05, 0.2, 0.5, 1.0)
ANSWER_MARGIN_S = 10.0  # beyond the tool's own timeout, for set-up and the answer

class _NoAnswer(ConnectionError):
    pass


class SandboxExecutor:
    """``ToolExecutor`` for CUSTOM tools (Python and TypeScript) run in the sandbox tool server."""

    def __init__(
        self,
        supervisor: SandboxSupervisor,
        *,
        settings: SandboxSettings | None = None,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
    ) -> None:
        self.supervisor = supervisor
        self.settings = settings or supervisor.settings
        self.max_output_bytes = max_output_bytes
        self.max_result_bytes = max_result_bytes
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

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
            "network": {"allow": list(tool.options.network.allow)},
            "limits": {
                "timeout_s": min(tool.options.timeout_s, self.settings.timeout_s),
                "memory_mb": self.settings.memory_mb,
                "disk_mb": self.settings.disk_mb,
                "max_output_bytes": self.max_output_bytes,
                "max_result_bytes": self.max_result_bytes,
            },
        }

    # --- connections -------------------------------------------------------------------------------------
    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while self._idle:
            reader, writer = self._idle.pop()
            if not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.close()
        return await asyncio.open_unix_connection(str(self.supervisor.socket_path), limit=MAX_RESPONSE_BYTES)

    def _release(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._idle) < self.settings.warm:
            self._idle.append((reader, writer))
        else:
            writer.close()

    async def call_raw(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send one request and return the decoded response.

        A connection refused or reset before any answer means the tool server died under us (a monitor that
        accepted the call never dies with it): wait for the supervisor's restart and try again.
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
        reader, writer = await self._connection()
        done = False
        try:
            writer.write(line)
            await writer.drain()
            async with asyncio.timeout(timeout_s):
                raw = await reader.readline()
            if not raw:
                raise _NoAnswer("the sandbox closed the connection without an answer")
            response: dict[str, Any] = json.loads(raw)
            done = True
        finally:
            if done:
                self._release(reader, writer)
            else:  # cancelled, timed out or broken: closing it makes the tool server kill the call
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
        if response.get("v") != PROTOCOL_VERSION:
            raise ToolError(f"sandbox answered protocol {response.get('v')!r}", code="sandbox_error")
        return response

    async def prewarm(self, runtime: Literal["python", "typescript"]) -> None:
        """Ask an idle connection's monitor to keep a warm sandbox for ``runtime`` (used at start-up)."""
        request = {"v": PROTOCOL_VERSION, "op": "prewarm", "id": f"prewarm-{runtime}", "runtime": runtime,
                   "limits": {"memory_mb": self.settings.memory_mb, "disk_mb": self.settings.disk_mb}}
        await self.call_raw(request, ANSWER_MARGIN_S)

    # --- calls -------------------------------------------------------------------------------------------
    async def run(self, tool: Tool, arguments: dict[str, Any]) -> ToolRun:
        """Run a tool with already validated arguments; every failure comes back as a ``ToolRun``."""
        started = time.monotonic()
        try:
            request = self.request_for(tool, arguments, f"{tool.id}:{int(started * 1000)}")
            timeout_s = float(request["limits"]["timeout_s"]) + ANSWER_MARGIN_S
            response = await self.call_raw(request, timeout_s)
        except ToolError as exc:
            return ToolRun.failed(exc.code, exc.message, started)
        except TimeoutError:
            return ToolRun("timeout", error_type="Timeout", error_message="the sandbox did not answer in time",
                           duration_ms=(time.monotonic() - started) * 1000)
        except (OSError, ValueError) as exc:
            return ToolRun.failed("SandboxError", f"{type(exc).__name__}: {exc}", started)
        return ToolRun.from_response(response, started)

    async def execute(self, tool: Tool, arguments: dict[str, Any]) -> ToolResult:
        started = time.monotonic()
        try:
            args = check_arguments(tool, arguments)
        except ToolError as exc:
            return format_error(exc.code, exc.message, started)
        return (await self.run(tool, args)).as_result()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
