"""Creating and changing agents and their memory, with validation and prompt-cache invalidation."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from voice_letta import config as C
from voice_letta import ids
from voice_letta.agent.bus import MemoryBus, MemoryUpdated
from voice_letta.agent.models import AgentState, Block, BufferConfig, EmbeddingConfig, LLMConfig, Tool
from voice_letta.agent.ports import NewBlock, Store
from voice_letta.agent.prompt import SystemPromptCache
from voice_letta.errors import ConfigError, NotFoundError


class BlockCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")
    value: str = ""
    limit: int = Field(default=C.DEFAULT_BLOCK_CHAR_LIMIT, gt=0, le=200_000)
    description: str = ""
    read_only: bool = False


class BlockUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str | None = None
    limit: int | None = Field(default=None, gt=0, le=200_000)
    description: str | None = None
    read_only: bool | None = None
    expected_version: int | None = Field(default=None, ge=1)


class AgentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    system: str | None = None
    blocks: list[BlockCreate] | None = None  # None: a persona and a human block
    block_ids: list[str] = Field(default_factory=list)  # existing blocks to share with this agent
    tool_ids: list[str] = Field(default_factory=list)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    sleeptime_llm: LLMConfig | None = None
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    buffer: BufferConfig = Field(default_factory=BufferConfig)
    client_system_prompt: Literal["ignore", "append"] = "ignore"
    max_tool_rounds: int = Field(default=C.DEFAULT_MAX_TOOL_ROUNDS, ge=1, le=10)
    turn_budget_s: float = Field(default=C.DEFAULT_TURN_BUDGET_S, gt=0, le=600)
    memory_target_label: str = C.DEFAULT_MEMORY_TARGET_LABEL
    handoff_on_session_end: bool = True


def default_blocks() -> list[BlockCreate]:
    return [
        BlockCreate(label="persona", value=C.DEFAULT_PERSONA,
                    description="Who you are and how you speak. Guides your behaviour."),
        BlockCreate(label="human", value=C.DEFAULT_HUMAN,
                    description="Key facts about the person you are talking with: name, preferences, plans."),
    ]


class AgentService:
    def __init__(self, store: Store, prompts: SystemPromptCache, bus: MemoryBus | None = None) -> None:
        self.store = store
        self.prompts = prompts
        self.bus = bus

    async def find(self, id_or_name: str) -> AgentState | None:
        """The agent with this id, else the one agent with this name; None when there is none (or several)."""
        try:
            return await self.store.get_agent(id_or_name)
        except NotFoundError:
            matches = [a for a in await self.store.list_agents() if a.name == id_or_name]
            return await self.store.get_agent(matches[0].id) if len(matches) == 1 else None

    async def create(self, req: AgentCreate) -> AgentState:
        blocks = default_blocks() if req.blocks is None else req.blocks
        labels = [b.label for b in blocks]
        shared = [await self.store.get_block(bid) for bid in req.block_ids]
        labels += [b.label for b in shared]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"duplicate block labels: {labels}")
        if req.memory_target_label not in labels:
            raise ConfigError(
                f"memory_target_label {req.memory_target_label!r} names no block of this agent "
                f"(blocks: {', '.join(labels) or 'none'}); the sleeptime agent rewrites that block")
        tools: list[Tool] = [await self.store.get_tool(tid) for tid in req.tool_ids]
        agent = AgentState(
            id=ids.agent_id(), name=req.name, system=req.system or C.DEFAULT_SYSTEM_PROMPT, llm=req.llm,
            sleeptime_llm=req.sleeptime_llm, embedding=req.embedding, buffer=req.buffer,
            client_system_prompt=req.client_system_prompt, max_tool_rounds=req.max_tool_rounds,
            turn_budget_s=req.turn_budget_s, memory_target_label=req.memory_target_label,
            handoff_on_session_end=req.handoff_on_session_end, tools=tools,
        )
        new_blocks: list[NewBlock | str] = [
            NewBlock(label=b.label, value=b.value, limit=b.limit, description=b.description, read_only=b.read_only)
            for b in blocks
        ]
        new_blocks += [b.id for b in shared]
        return await self.store.create_agent(agent, new_blocks)

    async def update_block(self, block_id: str, req: BlockUpdate) -> Block:
        current = await self.store.get_block(block_id)
        fields = {k: v for k, v in req.model_dump(exclude={"value", "expected_version"}).items() if v is not None}
        value = current.value if req.value is None else req.value
        block = await self.store.update_block(block_id, value=value, expected_version=req.expected_version,
                                              **fields)
        await self.publish_memory_change(block_id=block.id)
        return block

    async def publish_memory_change(
        self, *, agent_id: str | None = None, block_id: str | None = None, passages_added: int = 0,
        passages_removed: int = 0, reason: str = "rest",
    ) -> None:
        """Tell live sessions (``memory.updated``) that an agent's memory changed outside the sleeptime agent:
        one agent, or every agent that shares ``block_id``."""
        if self.bus is None:
            return
        if agent_id is not None:
            agents = [await self.store.get_agent(agent_id)]
        else:
            agents = [a for a in await self.store.list_agents() if any(b.id == block_id for b in a.blocks)]
        for agent in agents:
            self.bus.publish(MemoryUpdated(agent.id, tuple(agent.blocks), passages_added=passages_added,
                                           reason=reason, passages_removed=passages_removed))

    async def delete(self, agent_id: str) -> None:
        await self.store.delete_agent(agent_id)
        self.prompts.invalidate(agent_id)
