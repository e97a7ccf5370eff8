"""Tools that run outside the agent (sandbox, MCP)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from voice_letta.agent.models import Tool


@dataclass(frozen=True, slots=True)
class ToolResult:
    ok: bool
    output: str  # what the model sees
    error: str | None = None
    duration_ms: float = 0.0


class ToolExecutor(Protocol):
    async def execute(self, tool: Tool, arguments: dict[str, Any]) -> ToolResult: ...
