"""``McpExecutor``: the ``ToolExecutor`` for EXTERNAL_MCP tools, over an ``McpManager``'s connections."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from voice_letta.agent.models import Tool, ToolType
from voice_letta.agent.ports import ToolResult
from voice_letta.errors import NotFoundError, ToolError
from voice_letta.tools_runtime.mcp_manager import McpManager, describe
from voice_letta.tools_runtime.tool_run import ToolRun
from voice_letta.tools_runtime.validation import check_arguments, format_error


def _content_text(result: Any) -> str:
    parts: list[str] = []
    for block in getattr(result, "content", None) or []:
        text = getattr(block, "text", None)
        if text is not None:
            parts.append(text)
        else:
            kind = getattr(block, "type", "content")
            parts.append(f"[{kind}]")
    if not parts and getattr(result, "structured_content", None) is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)


class McpExecutor:
    """``ToolExecutor`` for EXTERNAL_MCP tools; same validation and error path as the sandbox."""

    def __init__(self, manager: McpManager, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.manager = manager
        self._clock = clock

    async def execute(self, tool: Tool, arguments: dict[str, Any]) -> ToolResult:
        started = self._clock()
        try:
            args = check_arguments(tool, arguments)
        except ToolError as exc:
            return format_error(exc.code, exc.message, started)
        return (await self.run(tool, args)).as_result()

    async def run(self, tool: Tool, arguments: dict[str, Any]) -> ToolRun:
        """Call with validated arguments; the tool's text comes back as ``result`` (also on a tool error)."""
        started = self._clock()

        def elapsed() -> float:
            return (self._clock() - started) * 1000.0

        if tool.type is not ToolType.EXTERNAL_MCP or not tool.mcp_server:
            return ToolRun("error", error_type="invalid_tool", error_message=f"{tool.name} is not an MCP tool",
                           duration_ms=elapsed())
        try:
            result = await self.manager.call_tool(tool.mcp_server, tool.name, arguments,
                                                  timeout_s=tool.options.timeout_s)
        except (ToolError, NotFoundError) as exc:
            return ToolRun("error", error_type=exc.code, error_message=exc.message, duration_ms=elapsed())
        except TimeoutError:
            message = f"{tool.name} did not answer within {tool.options.timeout_s:g} s"
            return ToolRun("timeout", error_type="Timeout", error_message=message, duration_ms=elapsed())
        except Exception as exc:
            return ToolRun("error", error_type="McpError", error_message=describe(exc), duration_ms=elapsed())
        text = _content_text(result)
        if result.is_error:
            return ToolRun("error", result=text, error_type="McpToolError", error_message=text, duration_ms=elapsed())
        return ToolRun("ok", result=text, duration_ms=elapsed())
