"""Registering custom tools and routing tool calls to where they run.

``ToolService`` turns user source into ``Tool`` models (schema derived or checked at registration,
errors raised as ``ToolError`` with line numbers), persists them through the ``Store`` port, and picks
the executor for a tool: CUSTOM → the sandbox, EXTERNAL_MCP → the MCP manager.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from voice_letta import ids
from voice_letta.agent.models import Tool, ToolOptions, ToolType
from voice_letta.agent.ports import Store, ToolExecutor
from voice_letta.errors import NotFoundError, ToolError
from voice_letta.tools_runtime.mcp_executor import McpExecutor
from voice_letta.tools_runtime.mcp_manager import McpManager, McpTransport
from voice_letta.tools_runtime.sandbox_client import SandboxExecutor
from voice_letta.tools_runtime.sandbox_supervisor import SANDBOX_DIR
from voice_letta.tools_runtime.schema_from_python import parse_python_tool
from voice_letta.tools_runtime.schema_from_typescript import inspect_typescript, spec_from_report
from voice_letta.tools_runtime.tool_run import ToolRun
from voice_letta.tools_runtime.validation import check_arguments

MAX_SOURCE_BYTES = 256 * 1024


def _check_size(source: str) -> None:
    if not isinstance(source, str) or not source.strip():
        raise ToolError("tool source is empty", code="invalid_tool_source")
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise ToolError(f"tool source is larger than {MAX_SOURCE_BYTES} bytes", code="invalid_tool_source")


class ToolService:
    def __init__(
        self,
        store: Store,
        *,
        sandbox: SandboxExecutor | None = None,
        mcp: McpManager | None = None,
        sandbox_dir: Path = SANDBOX_DIR,
    ) -> None:
        self.store = store
        self.sandbox = sandbox
        self.mcp = mcp
        self.sandbox_dir = sandbox_dir
        self._mcp_executor = McpExecutor(mcp) if mcp is not None else None

    # --- custom tools --------------------------------------------------------------------------------
    async def register_python(
        self,
        source: str,
        *,
        name: str | None = None,
        description: str | None = None,
        options: ToolOptions | None = None,
    ) -> Tool:
        _check_size(source)
        spec = parse_python_tool(source, name)
        tool = Tool(
            id=ids.tool_id(),
            name=spec.name,
            type=ToolType.CUSTOM,
            description=description if description is not None else spec.description,
            parameters=spec.parameters,
            source_type="python",
            source_code=source,
            options=options or ToolOptions(),
        )
        return await self.store.create_tool(tool)

    async def register_typescript(
        self,
        source: str,
        parameters_schema: dict[str, Any] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        options: ToolOptions | None = None,
    ) -> Tool:
        _check_size(source)
        report = await inspect_typescript(source, self.sandbox_dir)
        spec = spec_from_report(report, name=name, description=description, parameters=parameters_schema)
        tool = Tool(
            id=ids.tool_id(),
            name=spec.name,
            type=ToolType.CUSTOM,
            description=spec.description,
            parameters=spec.parameters,
            source_type="typescript",
            source_code=source,
            options=options or ToolOptions(),
        )
        return await self.store.create_tool(tool)

    # --- MCP servers ---------------------------------------------------------------------------------
    def _manager(self) -> McpManager:
        if self.mcp is None:
            raise ToolError("MCP support is not configured", code="mcp_unavailable")
        return self.mcp

    async def add_mcp_server(
        self,
        name: str,
        *,
        command: list[str] | None = None,
        url: str | None = None,
        transport: McpTransport | None = None,
        env: dict[str, str] | None = None,
        files: list[str] | None = None,
        network_allow: list[str] | None = None,
    ) -> list[Tool]:
        """Register an MCP server and persist its tools (reusing stored ones with the same stable id). All or
        nothing: if a tool cannot be stored (its name is another tool's), the server is not registered either."""
        manager = self._manager()
        tools = await manager.add_server(name, command=command, url=url, transport=transport, env=env,
                                         files=files, network_allow=network_allow)
        stored: list[Tool] = []
        created: list[str] = []
        try:
            for tool in tools:
                try:
                    stored.append(await self.store.get_tool(tool.id))
                except NotFoundError:
                    stored.append(await self.store.create_tool(tool))
                    created.append(tool.id)
        except BaseException:
            for tool_id in created:
                with contextlib.suppress(NotFoundError):
                    await self.store.delete_tool(tool_id)
            await manager.remove_server(name)
            raise
        return stored

    async def remove_mcp_server(self, name: str) -> None:
        """Unregister a server and delete its tools (which detaches them from every agent): a deleted server's
        tools cannot run, and their names would stay taken."""
        await self._manager().remove_server(name)
        for tool in await self.store.list_tools():
            if tool.type is ToolType.EXTERNAL_MCP and tool.mcp_server == name:
                with contextlib.suppress(NotFoundError):
                    await self.store.delete_tool(tool.id)

    # --- running without a turn ------------------------------------------------------------------------
    async def run(self, tool: Tool, arguments: dict[str, Any]) -> ToolRun:
        """Run a tool directly (``POST /v1/tools/{id}/run``); bad arguments raise ``ToolError``."""
        args = check_arguments(tool, arguments)
        if tool.type is ToolType.CUSTOM:
            if self.sandbox is None:
                raise ToolError("the tool sandbox is not configured", code="sandbox_unavailable")
            return await self.sandbox.run(tool, args)
        if tool.type is ToolType.EXTERNAL_MCP:
            if self._mcp_executor is None:
                raise ToolError("MCP support is not configured", code="mcp_unavailable")
            return await self._mcp_executor.run(tool, args)
        raise ToolError(f"{tool.type.value} tools run inside the agent, not here", code="invalid_tool")

    def sandbox_status(self) -> dict[str, Any]:
        """The sandbox's settings and the isolation in force (``GET /v1/sandbox``)."""
        if self.sandbox is None:
            return {"enabled": False}
        return {"enabled": True, **self.sandbox.supervisor.status()}

    # --- routing -------------------------------------------------------------------------------------
    def executor_for(self, tool: Tool) -> ToolExecutor:
        if tool.type is ToolType.CUSTOM:
            if self.sandbox is None:
                raise ToolError("the tool sandbox is not configured", code="sandbox_unavailable")
            return self.sandbox
        if tool.type is ToolType.EXTERNAL_MCP:
            if self._mcp_executor is None:
                raise ToolError("MCP support is not configured", code="mcp_unavailable")
            return self._mcp_executor
        raise ToolError(f"{tool.type.value} tools run inside the agent, not here", code="invalid_tool")
