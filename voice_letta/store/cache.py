"""A read-through cache of agents in front of the store: the hot path loads an agent on every turn.

Every write that can change an agent's state (its settings, blocks, tools) goes through this wrapper and
clears the cache before and after it, so a cached agent is never stale within the process. Blocks are shared
between agents, so a block write clears every entry; writes are rare next to reads. A read that was in flight
while the cache was cleared is returned but not kept: it may have read the row before the write (a turn's read
racing ``DELETE /v1/agents/{id}`` put the deleted agent back, measured).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from voice_letta.agent.models import AgentState, Block, Tool
from voice_letta.agent.ports import NewBlock, Store

MAX_CACHED_AGENTS = 1024  # least recently used out: with one agent per caller, agents come and go for weeks

T = TypeVar("T")


class CachingStore:
    def __init__(self, inner: Store, max_agents: int = MAX_CACHED_AGENTS) -> None:
        self._inner = inner
        self._agents: OrderedDict[str, AgentState] = OrderedDict()
        self._max_agents = max_agents
        self._generation = 0  # how many times the cache was cleared: a read that saw it change is not kept

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def inner(self) -> Store:
        return self._inner

    @property
    def origin(self) -> str:
        return str(getattr(self._inner, "origin", ""))

    def invalidate(self, agent_id: str | None = None) -> None:
        """Drop one agent (another process changed it: ``server/changes.py``) or, without an id, every agent."""
        self._generation += 1
        if agent_id is None:
            self._agents.clear()
        else:
            self._agents.pop(agent_id, None)

    async def get_agent(self, agent_id: str) -> AgentState:
        agent = self._agents.get(agent_id)
        if agent is None:
            seen = self._generation
            agent = await self._inner.get_agent(agent_id)
            if seen != self._generation:
                return agent  # a write began or ended meanwhile: the row may predate it
            self._agents[agent_id] = agent
            while len(self._agents) > self._max_agents:
                self._agents.popitem(last=False)
        else:
            self._agents.move_to_end(agent_id)
        return agent

    async def create_agent(self, agent: AgentState, blocks: Sequence[NewBlock | str], *,
                           claim_name: bool = False) -> AgentState:
        return await self._written(self._inner.create_agent(agent, blocks, claim_name=claim_name))

    async def update_agent(self, agent: AgentState) -> AgentState:
        return await self._written(self._inner.update_agent(agent))

    async def delete_agent(self, agent_id: str) -> None:
        await self._written(self._inner.delete_agent(agent_id))

    async def update_block(self, block_id: str, *, value: str, expected_version: int | None = None,
                           **fields: Any) -> Block:
        return await self._written(
            self._inner.update_block(block_id, value=value, expected_version=expected_version, **fields))

    async def attach_block(self, agent_id: str, block_id: str) -> None:
        await self._written(self._inner.attach_block(agent_id, block_id))

    async def detach_block(self, agent_id: str, block_id: str) -> None:
        await self._written(self._inner.detach_block(agent_id, block_id))

    async def attach_tool(self, agent_id: str, tool_id: str) -> None:
        await self._written(self._inner.attach_tool(agent_id, tool_id))

    async def detach_tool(self, agent_id: str, tool_id: str) -> None:
        await self._written(self._inner.detach_tool(agent_id, tool_id))

    async def create_tool(self, tool: Tool) -> Tool:
        return await self._inner.create_tool(tool)

    async def delete_tool(self, tool_id: str) -> None:
        await self._written(self._inner.delete_tool(tool_id))

    async def _written(self, write: Awaitable[T]) -> T:
        """Run a store write with the cache cleared before it and after it (even when it fails: it may have
        committed before the error reached us)."""
        self.invalidate()
        try:
            return await write
        finally:
            self.invalidate()
