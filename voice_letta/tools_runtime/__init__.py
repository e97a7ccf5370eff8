"""Custom tools in a process sandbox, and MCP server tools (L2 adapters behind ``agent.ports.ToolExecutor``)."""

from voice_letta.tools_runtime.mcp_executor import McpExecutor
from voice_letta.tools_runtime.mcp_manager import McpManager, McpServerConfig
from voice_letta.tools_runtime.sandbox_client import SandboxExecutor
from voice_letta.tools_runtime.sandbox_supervisor import SandboxSupervisor
from voice_letta.tools_runtime.schema_from_python import parse_python_tool
from voice_letta.tools_runtime.service import ToolService
from voice_letta.tools_runtime.tool_run import ToolRun

__all__ = [
    "McpExecutor",
    "McpManager",
    "McpServerConfig",
    "SandboxExecutor",
    "SandboxSupervisor",
    "ToolRun",
    "ToolService",
    "parse_python_tool",
]
