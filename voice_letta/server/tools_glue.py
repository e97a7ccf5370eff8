"""Starts the tool sandbox and the MCP manager for the app, and routes tool calls to them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

from voice_letta.agent.models import Tool
from voice_letta.agent.ports import Store, ToolResult
from voice_letta.config import SandboxSettings
from voice_letta.errors import ToolError
from voice_letta.tools_runtime.mcp_manager import McpManager
from voice_letta.tools_runtime.mcp_sandbox import McpSandbox
from voice_letta.tools_runtime.sandbox_client import SandboxExecutor
from voice_letta.tools_runtime.sandbox_supervisor import SandboxSupervisor
from voice_letta.tools_runtime.service import ToolService

log = logging.getLogger(__name__)


class RoutingToolExecutor:
    """The agent's ToolExecutor: custom tools go to the sandbox, MCP tools to their server."""

    def __init__(self, service: ToolService) -> None:
        self.service = service

    async def execute(self, tool: Tool, arguments: dict[str, Any]) -> ToolResult:
        try:
            executor = self.service.executor_for(tool)
        except ToolError as exc:
            return ToolResult(False, f"Error: {exc.message}", error=exc.code)
        return await executor.execute(tool, arguments)


async def _prewarm(store: Store, executor: SandboxExecutor) -> None:
    """Have a sandbox waiting for the first call of each runtime the stored tools use (node's start-up is slow)."""
    used = {t.source_type for t in await store.list_tools()}
    runtimes: list[Literal["python", "typescript"]] = [r for r in ("python", "typescript") if r in used]
    for runtime in runtimes:
        try:
            await executor.prewarm(runtime)
        except ToolError as exc:
            log.warning("could not prewarm a %s sandbox: %s", runtime, exc.message)


@asynccontextmanager
async def tool_runtime(
    store: Store, data_dir: Path, *, sandbox: bool, settings: SandboxSettings | None = None
) -> AsyncIterator[ToolService]:
    """``data_dir`` holds the database (hidden from tools) and the MCP server registry."""
    supervisor: SandboxSupervisor | None = None
    executor: SandboxExecutor | None = None
    if sandbox:
        # The database directory is hidden from tools: it holds every conversation.
        supervisor = SandboxSupervisor(settings, hidden_paths=(data_dir,))
        await supervisor.start()  # logs the isolation level in force; ConfigError below the required one
        executor = SandboxExecutor(supervisor)
        await _prewarm(store, executor)
    settings = settings or SandboxSettings()
    # stdio MCP servers run in the sandbox too, unless the operator trusts them by name (--trust-mcp)
    mcp = McpManager(registry_path=data_dir / "mcp_servers.json",
                     sandbox=McpSandbox.of(supervisor) if supervisor is not None else None,
                     trusted=settings.trusted_mcp)
    try:
        await mcp.load()
    except Exception:  # a broken registry file must not stop the server
        log.exception("could not load the MCP server registry")
    try:
        yield ToolService(store, sandbox=executor, mcp=mcp)
    finally:
        await mcp.aclose()
        if executor is not None:
            await executor.aclose()
        if supervisor is not None:
            await supervisor.aclose()
