"""The store contract for agents, their memory blocks and tools."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from voice_letta.agent.models import AgentState, Block, Tool


@dataclass(frozen=True, slots=True)
class NewBlock:
    label: str
    value: str = ""
    limit: int | None = None
    description: str = ""
    read_only: bool = False


class AgentStore(Protocol):
    """Agents and their memory blocks."""

    # agents
    async def create_agent(self, agent: AgentState, blocks: Sequence[NewBlock | str], *,
                           claim_name: bool = False) -> AgentState:
        """Insert an agent; ``blocks`` are new blocks or ids of existing blocks to share. With ``claim_name`` the
        agent claims its name, which at most one agent holds at a time (ConflictError when another holds it): the
        database, not a process's lock, decides which of two processes making the same person's agent wins."""
        ...

    async def get_agent(self, agent_id: str) -> AgentState: ...  # NotFoundError
    async def list_agents(self) -> list[AgentState]: ...
    async def update_agent(self, agent: AgentState) -> AgentState: ...
    async def delete_agent(self, agent_id: str) -> None: ...

    # blocks
    async def get_block(self, block_id: str) -> Block: ...
    async def list_blocks(self, agent_id: str) -> list[Block]: ...
    async def update_block(
        self, block_id: str, *, value: str, expected_version: int | None = None, **fields: Any
    ) -> Block:
        """Write a block; with ``expected_version`` it is a compare-and-set (ConflictError on mismatch)."""
        ...

    async def attach_block(self, agent_id: str, block_id: str) -> None: ...
    async def detach_block(self, agent_id: str, block_id: str) -> None: ...


class ToolStore(Protocol):
    """Tools, and which agents have them."""

    async def create_tool(self, tool: Tool) -> Tool: ...
    async def get_tool(self, tool_id: str) -> Tool: ...
    async def list_tools(self) -> list[Tool]: ...
    async def delete_tool(self, tool_id: str) -> None: ...
    async def attach_tool(self, agent_id: str, tool_id: str) -> None: ...
    async def detach_tool(self, agent_id: str, tool_id: str) -> None: ...
