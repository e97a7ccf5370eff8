"""Creating and changing agents and their memory, with validation and prompt-cache invalidation."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from voice_letta import config as C
from voice_letta import ids
from voice_letta.agent.bus import MemoryBus, MemoryUpdated
from voice_letta.agent.models import (
    AgentState,
    Block,
    BufferConfig,
    EmbeddingConfig,
    LLMConfig,
    TimeZoneName,
    Tool,
    VoiceSettings,
)
from voice_letta.agent.ports import NewBlock, Store
from voice_letta.agent.prompt import SystemPromptCache
from voice_letta.agent.zones import DEFAULT_ZONE
from voice_letta.errors import ConfigError, ConflictError, NotFoundError, ProtocolViolation, invalid_body

MAX_AGENT_NAME = 128  # characters; a person's agent is named <template name>:<identity> (server/identities.py)


def _visible_name(name: str) -> str:
    # A name of spaces named no agent anyone could pick, and a line break or tab in one broke `agents list`'s
    # tab-separated lines that scripts read (and log lines).
    same = same_name(name)
    if not same or any(unicodedata.category(ch) == "Cc" for ch in name):
        raise ValueError("an agent name needs a visible character and no control characters (line breaks, tabs)")
    return same


# Characters a paste leaves in a name that show as nothing: a zero-width space (Slack, Teams, web pages), a byte
# order mark (a Windows file's first line), a word joiner, a soft hyphen. Not the zero-width (non-)joiner: Persian
# and Indic words and emoji sequences are written with them.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\ufeff\u2060\u00ad"))


def same_name(name: str) -> str:
    """A name as stored and compared: composed (NFC), its spaces plain, without spaces around it. "Café" typed on
    macOS or pasted from a file name arrives decomposed ("e" + U+0301), "front desk" copied from a web page or a
    document has a no-break space, and "front desk " came from a config file's line: each looks the same
    everywhere and named no agent."""
    name = unicodedata.normalize("NFC", name).translate(_INVISIBLE)
    return "".join(" " if unicodedata.category(ch) == "Zs" else ch for ch in name).strip()


AgentName = Annotated[str, Field(min_length=1, max_length=MAX_AGENT_NAME), AfterValidator(_visible_name)]


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

    name: AgentName
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
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    timezone: TimeZoneName = DEFAULT_ZONE  # IANA name: the user's days and the model's clock


class AgentUpdate(BaseModel):
    """``PATCH /v1/agents/{id}``: the settings to change; absent fields keep their value, memory is untouched.

    ``llm``, ``sleeptime_llm``, ``embedding`` and ``buffer`` are JSON merge patches (RFC 7396) over the current
    values: ``{"llm": {"model": "gpt-4o-mini"}}`` changes the model only, and a ``null`` member goes back to
    its default. Changing ``llm.provider`` also drops the old provider's ``base_url``, ``api_key_env`` and
    ``api_version`` unless the patch gives them. ``fallback`` replaces the fallback chain: one model, a list
    (tried in order) or ``null`` for none. ``sleeptime_llm: null`` makes the sleeptime agent use ``llm``.
    ``tool_ids`` replaces the agent's tools.
    """

    model_config = ConfigDict(extra="forbid")

    name: AgentName | None = None
    system: str | None = Field(default=None, min_length=1)
    tool_ids: list[str] | None = None
    llm: dict[str, Any] | None = None
    fallback: dict[str, Any] | list[dict[str, Any]] | None = None
    sleeptime_llm: dict[str, Any] | None = None
    embedding: dict[str, Any] | None = None
    buffer: dict[str, Any] | None = None
    client_system_prompt: Literal["ignore", "append"] | None = None
    max_tool_rounds: int | None = Field(default=None, ge=1, le=10)
    turn_budget_s: float | None = Field(default=None, gt=0, le=600)
    memory_target_label: str | None = None
    handoff_on_session_end: bool | None = None
    voice: VoiceSettings | None = None  # replaces the voice settings as a whole
    timezone: TimeZoneName | None = None


_PROVIDER_BOUND = ("base_url", "api_key_env", "api_version")
_M = TypeVar("_M", bound=BaseModel)


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396: members of ``patch`` replace those of ``target``; objects merge; ``null`` removes."""
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = value
    return out


def _patched_llm(current: LLMConfig | None, patch: dict[str, Any], where: str) -> LLMConfig:
    base = current.model_dump(mode="json") if current is not None else {}
    provider = patch.get("provider")
    if provider is not None and provider != base.get("provider"):
        for name in _PROVIDER_BOUND:
            base.pop(name, None)
        if "model" not in patch:
            base.pop("model", None)
            if provider != "local":
                raise ProtocolViolation(f"invalid request body: {where}.model: a new provider needs its model",
                                        code="invalid_request",
                                        param=f"{where}.model")
    return _validated(LLMConfig, merge_patch(base, patch), where)


def _validated(model: type[_M], data: Any, where: str) -> _M:
    """A merged patch (stored values dumped as JSON + the request's JSON members), validated as the JSON it is and
    strictly on JSON types, as every REST body is (server/http_admin.parse_body): ``"0.5"`` is not a temperature."""
    try:
        return model.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as exc:
        raise invalid_body(exc, prefix=where) from exc


def _chain(fallback: dict[str, Any] | list[dict[str, Any]]) -> LLMConfig | None:
    links = fallback if isinstance(fallback, list) else [fallback]
    chain: LLMConfig | None = None
    for i, link in reversed(list(enumerate(links))):
        cfg = _validated(LLMConfig, link, f"fallback.{i}" if isinstance(fallback, list) else "fallback")
        chain = cfg.model_copy(update={"fallback": chain}) if chain is not None else cfg
    return chain


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
        """The agent with this id, else the one agent with this name; None when there is none. A name several
        agents share (a setup script run twice) is a ConflictError naming them: "does not exist" sent the
        client looking for an agent it could list."""
        try:
            return await self.store.get_agent(id_or_name)
        except NotFoundError:
            wanted = same_name(id_or_name)  # agents named before names were stored composed compare too
            matches = [a for a in await self.store.list_agents() if same_name(a.name) == wanted]
            if len(matches) > 1:
                ids = ", ".join(a.id for a in matches[:5]) + (", …" if len(matches) > 5 else "")
                raise ConflictError(f"{len(matches)} agents are named {id_or_name[:80]!r} ({ids}): use an agent "
                                    "id, or rename or delete all but one", code="ambiguous_agent_name") from None
            return await self.store.get_agent(matches[0].id) if matches else None

    async def create(self, req: AgentCreate, *, claim_name: bool = False) -> AgentState:
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
            handoff_on_session_end=req.handoff_on_session_end, voice=req.voice, timezone=req.timezone, tools=tools,
        )
        new_blocks: list[NewBlock | str] = [
            NewBlock(label=b.label, value=b.value, limit=b.limit, description=b.description, read_only=b.read_only)
            for b in blocks
        ]
        new_blocks += [b.id for b in shared]
        return await self.store.create_agent(agent, new_blocks, claim_name=claim_name)

    async def update(
        self, agent_id: str, req: AgentUpdate, *, check_embedding: Callable[[EmbeddingConfig], None] | None = None,
        check_llm: Callable[[LLMConfig], None] | None = None,
    ) -> AgentState:
        """Apply a PATCH: validated like create; blocks, messages and archival memory stay as they are.

        ``check_embedding`` refuses an embedding model the server cannot run (ConfigError), as
        ``PUT /v1/agents/{id}/embedding`` does; ``check_llm`` a changed chat model it cannot build (no API key)."""
        agent = await self.store.get_agent(agent_id)
        given = req.model_fields_set
        update: dict[str, Any] = {}
        for name in ("name", "system", "client_system_prompt", "max_tool_rounds", "turn_budget_s",
                     "memory_target_label", "handoff_on_session_end", "voice", "timezone"):
            if name in given:
                value = getattr(req, name)
                if value is None:
                    raise ProtocolViolation(f"{name} cannot be null", code="invalid_request", param=name)
                update[name] = value
        llm = agent.llm
        if "llm" in given:
            if req.llm is None:
                raise ProtocolViolation("llm cannot be null", code="invalid_request", param="llm")
            llm = _patched_llm(agent.llm, req.llm, "llm")
        if "fallback" in given:
            chain = _chain(req.fallback) if req.fallback else None
            llm = _validated(LLMConfig, {**llm.model_dump(mode="json"),
                                         "fallback": chain.model_dump(mode="json") if chain else None}, "fallback")
        update["llm"] = llm
        if "sleeptime_llm" in given:
            update["sleeptime_llm"] = (None if req.sleeptime_llm is None
                                       else _patched_llm(agent.sleeptime_llm or agent.llm, req.sleeptime_llm,
                                                         "sleeptime_llm"))
        if check_llm is not None:
            for name, stored in (("llm", agent.llm), ("sleeptime_llm", agent.sleeptime_llm)):
                changed = update.get(name)
                if changed is not None and changed != stored:
                    check_llm(changed)
        if "buffer" in given:
            update["buffer"] = _validated(BufferConfig, merge_patch(agent.buffer.model_dump(mode="json"),
                                                                    req.buffer or {}), "buffer")
        if "embedding" in given:
            current = agent.embedding.model_dump(mode="json")
            if (req.embedding or {}).get("provider") not in (None, current["provider"]):
                current = {}  # another provider: its own defaults (model, dim), not the old model's name and size
            embedding = _validated(EmbeddingConfig, merge_patch(current, req.embedding or {}), "embedding")
            if embedding != agent.embedding and check_embedding is not None:
                check_embedding(embedding)
            update["embedding"] = embedding
        labels = [b.label for b in agent.blocks]
        target = update.get("memory_target_label", agent.memory_target_label)
        if target not in labels:
            raise ConfigError(f"memory_target_label {target!r} names no block of this agent "
                              f"(blocks: {', '.join(labels) or 'none'}); the sleeptime agent rewrites that block")
        new_tools = None
        if req.tool_ids is not None:
            new_tools = [await self.store.get_tool(tid) for tid in dict.fromkeys(req.tool_ids)]
        changed = agent.model_copy(update=update)
        if changed != agent:
            await self.store.update_agent(changed)
        if new_tools is not None:
            old = {t.id for t in agent.tools}
            keep = {t.id for t in new_tools}
            for tool_id in old - keep:
                await self.store.detach_tool(agent_id, tool_id)
            for tool in new_tools:
                if tool.id not in old:
                    await self.store.attach_tool(agent_id, tool.id)
        self.prompts.invalidate(agent_id)
        return await self.store.get_agent(agent_id)

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
