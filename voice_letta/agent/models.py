"""Domain models persisted in the store and exchanged with adapters (pydantic v2)."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from voice_letta import config as C
from voice_letta.agent.zones import DEFAULT_ZONE, canonical_zone


class ToolType(StrEnum):
    CUSTOM = "custom"
    LETTA_BUILTIN = "letta_builtin"
    LETTA_FILES_CORE = "letta_files_core"
    EXTERNAL_MCP = "external_mcp"
    LETTA_CORE = "letta_core"
    LETTA_MEMORY_CORE = "letta_memory_core"
    LETTA_VOICE_SLEEPTIME_CORE = "letta_voice_sleeptime_core"


# Only these reach the voice agent; memory-editing and sleeptime tools stay with the sleeptime agent.
VOICE_SAFE_TOOL_TYPES: frozenset[ToolType] = frozenset(
    {ToolType.CUSTOM, ToolType.LETTA_BUILTIN, ToolType.LETTA_FILES_CORE, ToolType.EXTERNAL_MCP}
)


class ProviderName(StrEnum):
    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    OLLAMA = "ollama"
    VLLM = "vllm"
    SGLANG = "sglang"
    AZURE = "azure"
    LOCAL = "local"


def _not_a_server_secret(name: str | None) -> str | None:
    # The key is sent to the agent's base_url, which its creator chooses: never one of the server's own secrets.
    if name is not None and name.upper() in C.SERVER_SECRET_ENVS:
        raise ValueError(f"{name} is one of the server's own secrets and cannot be an agent's key")
    return name


KeyEnvName = Annotated[str | None, AfterValidator(_not_a_server_secret)]
# An IANA time zone name, stored as the zoneinfo database spells it ("america/new_york" -> "America/New_York").
TimeZoneName = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(canonical_zone)]


class LLMConfig(BaseModel):
    """Which model an agent talks to. Keys are never stored: only the name of the env var holding one."""

    model_config = ConfigDict(extra="forbid")

    provider: ProviderName = ProviderName.LOCAL
    model: str = C.LOCAL_LLM_MODEL
    base_url: str | None = None
    api_key_env: KeyEnvName = None
    api_version: str | None = None  # Azure
    context_window: int = Field(default=C.DEFAULT_CONTEXT_WINDOW, gt=256)
    temperature: float = Field(default=C.DEFAULT_TEMPERATURE, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=C.DEFAULT_MAX_TOKENS, gt=0)
    strict: bool = False
    parallel_tool_calls: bool = False
    max_retries: int = Field(default=C.DEFAULT_LLM_RETRIES, ge=0, le=10)
    timeout_s: float = Field(default=C.DEFAULT_LLM_TIMEOUT_S, gt=0, le=3600)
    # Seconds to the first token before the next model of the chain takes over (0 or None: no deadline).
    first_token_timeout_s: float | None = Field(default=C.DEFAULT_FIRST_TOKEN_TIMEOUT_S, ge=0, le=600)
    # Which max-tokens parameter an OpenAI-protocol server understands; auto: max_completion_tokens for OpenAI's
    # own API and Azure, max_tokens for any other server (llama.cpp, vLLM, Ollama, LM Studio ignore the other).
    max_tokens_param: Literal["auto", "max_tokens", "max_completion_tokens"] = "auto"
    prompt_cache: bool = True  # ask the provider to cache the prompt prefix (Anthropic cache_control, OpenAI key)
    vision: bool | None = None  # takes image input; None: known per provider (see docs/protocol.md)
    fallback: LLMConfig | None = None

    @model_validator(mode="after")
    def _check_chain(self) -> LLMConfig:
        depth, link = 0, self.fallback
        while link is not None:
            depth += 1
            if depth > C.MAX_FALLBACKS:
                raise ValueError(f"a fallback chain has at most {C.MAX_FALLBACKS} models after the agent's own")
            link = link.fallback
        return self

    def chain(self) -> list[LLMConfig]:
        """This model, then its fallbacks in order (each without its own ``fallback``)."""
        out: list[LLMConfig] = []
        link: LLMConfig | None = self
        while link is not None:
            out.append(link.model_copy(update={"fallback": None}))
            link = link.fallback
        return out


# OpenAI's embedding models and their native sizes: the defaults of an "openai" embedding config that names no
# model or no dim (the local MiniLM's name and size mean nothing to OpenAI's API).
OPENAI_EMBED_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
OPENAI_EMBED_MODEL = "text-embedding-3-small"


class EmbeddingConfig(BaseModel):
    """Defaults: the local MiniLM (384-d); with ``provider: "openai"``, text-embedding-3-small and, for OpenAI's own
    models, their native size."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["local", "openai"] = "local"
    model: str = C.LOCAL_EMBED_MODEL
    dim: int = Field(default=C.LOCAL_EMBED_DIM, gt=0)
    base_url: str | None = None
    api_key_env: KeyEnvName = None

    @model_validator(mode="before")
    @classmethod
    def _openai_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("provider") == "openai" and ("model" not in data or "dim" not in data):
            data = {"model": OPENAI_EMBED_MODEL, **data}
            if "dim" not in data and data["model"] in OPENAI_EMBED_DIMS:
                data["dim"] = OPENAI_EMBED_DIMS[data["model"]]
        return data


class BufferConfig(BaseModel):
    """Size of the voice agent's in-context message buffer (messages) plus a token budget.

    Limits: both message counts are greater than ``MIN_BUFFER_FLOOR`` (4) and at most ``MAX_MESSAGE_BUFFER``,
    ``max_messages`` > ``min_messages``; ``max_context_tokens`` is null (75 % of the LLM context window) or in
    ``MIN_CONTEXT_TOKENS``..``MAX_CONTEXT_TOKENS``.
    """

    model_config = ConfigDict(extra="forbid")

    # Bounds on the fields themselves, so a 400 names the field at fault (``param`` ``buffer.min_messages``).
    max_messages: int = Field(default=C.DEFAULT_MAX_MESSAGE_BUFFER, gt=C.MIN_BUFFER_FLOOR, le=C.MAX_MESSAGE_BUFFER)
    min_messages: int = Field(default=C.DEFAULT_MIN_MESSAGE_BUFFER, gt=C.MIN_BUFFER_FLOOR, le=C.MAX_MESSAGE_BUFFER)
    max_context_tokens: int | None = Field(default=None, ge=C.MIN_CONTEXT_TOKENS, le=C.MAX_CONTEXT_TOKENS)

    @model_validator(mode="after")
    def _check(self) -> BufferConfig:
        if self.max_messages <= self.min_messages:
            raise ValueError(f"max_messages ({self.max_messages}) must be greater than min_messages "
                             f"({self.min_messages})")
        return self


class Block(BaseModel):
    """A memory block. ``version`` grows by one on every write (compare-and-set)."""

    id: str
    label: str
    value: str = ""
    limit: int = C.DEFAULT_BLOCK_CHAR_LIMIT
    description: str = ""
    read_only: bool = False
    version: int = 1


# host:port with a DNS name (optionally "*." for subdomains), an IPv4 address or a bracketed IPv6 address
NETWORK_ALLOW_PATTERN = r"^((\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\]):[0-9]{1,5}$"


class ToolNetwork(BaseModel):
    """Where a sandboxed tool may connect, through the sandbox's egress proxy (docs/sandbox.md §Network)."""

    model_config = ConfigDict(extra="forbid")

    # "api.example.com:443", "*.example.com:443" (subdomains), "203.0.113.7:8080", "[2001:db8::1]:443"
    allow: list[Annotated[str, StringConstraints(pattern=NETWORK_ALLOW_PATTERN)]] = Field(
        default_factory=list, max_length=64
    )


class ToolOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filler: bool = True  # add the spoken pre_exec_msg argument
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    env: dict[str, str] = Field(default_factory=dict)  # the only environment the tool sees
    network: ToolNetwork = Field(default_factory=ToolNetwork)  # default: no network at all


class Tool(BaseModel):
    id: str
    name: str
    type: ToolType = ToolType.CUSTOM
    description: str = ""
    # JSON schema of the arguments (an object schema), without pre_exec_msg.
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    source_type: Literal["python", "typescript", "mcp", "builtin"] | None = None
    source_code: str | None = None
    options: ToolOptions = Field(default_factory=ToolOptions)
    mcp_server: str | None = None  # name of the MCP server for EXTERNAL_MCP tools
    created_at: float = Field(default_factory=time.time)


class ToolCall(BaseModel):
    id: str
    name: str
    arguments: str  # the JSON text as the model produced it


class ImagePart(BaseModel):
    """An image the user attached: a ``data:image/...;base64,`` URI or an http(s) URL, as the client sent it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    detail: Literal["auto", "low", "high"] | None = None


Role = Literal["system", "user", "assistant", "tool"]


class Message(BaseModel):
    id: str
    agent_id: str
    seq: int = 0  # per-agent order, assigned by the store
    role: Role
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None  # tool name on tool results
    turn_id: str | None = None
    created_at: float = Field(default_factory=time.time)
    interrupted: bool = False
    in_context: bool = True  # False once evicted from the voice agent's window
    # filler: a spoken pre_exec_msg line; client_tool: a call the HTTP client executes; volatile: never stored
    # imported: a past conversation loaded through POST /v1/agents/{id}/messages/import (out of context)
    kind: Literal["normal", "filler", "client_tool", "greeting", "fallback", "imported"] = "normal"
    images: list[ImagePart] = Field(default_factory=list)  # images the user attached to this message


class Passage(BaseModel):
    """An archival memory: a synopsis plus the original lines and when they were said."""

    id: str
    agent_id: str
    text: str  # the original lines
    synopsis: str = ""
    embedding: list[float] | None = None
    embedding_model: str | None = None
    embedding_dim: int | None = None
    start_at: float | None = None  # when the first summarized line was said (epoch seconds)
    end_at: float | None = None
    created_at: float = Field(default_factory=time.time)
    superseded_by: str | None = None  # a later passage that replaces this one's facts (set by the store)
    superseded_at: float | None = None
    # Archived word for word by the server (the user's lines, no synopsis): the sleeptime model stored no chunk of
    # lines it was handed (the embedded 135M model answers store_memories with an empty list), so nothing is lost.
    verbatim: bool = False


class Usage(BaseModel):
    prompt_tokens: int = 0  # input tokens, cached ones included (as OpenAI counts them)
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0  # input tokens read from the provider's prompt cache
    estimated: bool = False  # some of it was estimated: a cut-off stream reported no usage of its own

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.total_tokens += other.total_tokens
        self.cached_tokens += other.cached_tokens
        self.estimated = self.estimated or other.estimated


TurnStatus = Literal["running", "completed", "failed", "cancelled", "abandoned", "incomplete"]


class TurnRecord(BaseModel):
    """One user turn of an agent: how it ended, what it cost, how long each stage took.

    ``status``: running (stored with the input when the turn starts) → completed | failed | cancelled (cut off
    after some output) | abandoned (cut off before any output) | incomplete (the server died during it).
    """

    id: str
    agent_id: str
    fingerprint: str | None = None  # hash of the request's input (HTTP clients retry)
    idempotency_key: str | None = None  # the client's Idempotency-Key, when it sent one
    status: TurnStatus = "running"
    stop_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    steps: int = 0
    error: str | None = None
    started_at: float = Field(default_factory=time.time)
    ended_at: float | None = None
    # Which model answered (the last model call of the turn), whether it was a fallback of the agent's own
    # model, and its time to first token (ms from that call's request, not from the turn's start).
    provider: str | None = None
    model: str | None = None
    fallback_used: bool = False
    first_token_ms: float | None = None


class Greeting(BaseModel):
    """What the agent says first: ``text`` as written, or (``generate``) a greeting the model writes, optionally
    guided by ``instructions``. The shorthand ``"greeting": "Hello!"`` is ``{"text": "Hello!"}`` and
    ``"greeting": "generate"`` is ``{"generate": true}``."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, min_length=1, max_length=1000)
    generate: bool = False
    instructions: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"generate": True} if data.strip().lower() == "generate" else {"text": data}
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> Greeting:
        if (self.text is None) == (not self.generate):
            raise ValueError("a greeting has either a text or generate: true")
        return self


class VoiceSettings(BaseModel):
    """An agent's settings for live voice conversations (sessions, phone calls)."""

    model_config = ConfigDict(extra="forbid")

    # Said when a phone call connects, and when a browser or talk client asks (response.create greeting: true).
    greeting: Greeting | None = None
    # Where transfer_call sends a phone caller (E.164, e.g. "+15551234567"); no number, no transfer_call tool.
    transfer_to: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 ()-]{2,30}$")


class AgentState(BaseModel):
    id: str
    name: str
    system: str = C.DEFAULT_SYSTEM_PROMPT
    llm: LLMConfig = Field(default_factory=LLMConfig)
    sleeptime_llm: LLMConfig | None = None  # None: same as llm
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    buffer: BufferConfig = Field(default_factory=BufferConfig)
    # What to do with a system prompt an OpenAI-protocol client sends: ignore it, or add it as extra
    # instructions after ours.
    client_system_prompt: Literal["ignore", "append"] = "ignore"
    max_tool_rounds: int = Field(default=C.DEFAULT_MAX_TOOL_ROUNDS, ge=1, le=10)
    turn_budget_s: float = Field(default=C.DEFAULT_TURN_BUDGET_S, gt=0)
    memory_target_label: str = C.DEFAULT_MEMORY_TARGET_LABEL
    handoff_on_session_end: bool = True
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    # The user's time zone: "yesterday", "this morning", the dates search_memory shows and the current time the
    # model is told are in it (agent/zones.py).
    timezone: TimeZoneName = DEFAULT_ZONE
    created_at: float = Field(default_factory=time.time)
    blocks: list[Block] = Field(default_factory=list)
    tools: list[Tool] = Field(default_factory=list)

    def block(self, label: str) -> Block | None:
        return next((b for b in self.blocks if b.label == label), None)
