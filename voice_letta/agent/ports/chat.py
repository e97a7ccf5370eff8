"""Chat models: one streaming interface whose output is OpenAI ChatCompletionChunk-shaped deltas."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from voice_letta.agent.models import ImagePart, LLMConfig, ToolCall, Usage

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a provider request, in OpenAI chat terms."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    images: tuple[ImagePart, ...] = ()  # user messages: attached images (providers that take them)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema (object)
    strict: bool = False


ToolChoice = Literal["auto", "none", "required"] | str  # a str other than the three names one tool


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One model call. The optional fields are per-call settings; ``None`` means the model's own config."""

    messages: tuple[ChatMessage, ...]
    config: LLMConfig
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = "auto"
    first_token_timeout_s: float | None = None  # see providers/fallback.py; 0 turns the deadline off
    temperature: float | None = None
    max_tokens: int | None = None
    cache_key: str | None = None  # groups requests sharing a prompt prefix (the agent id), for provider caches
    # Nobody is waiting to hear this one (a memory job): a model that serves one request at a time (the embedded
    # one) serves a live turn first.
    background: bool = False


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    index: int
    id: str | None = None
    name: str | None = None
    arguments: str | None = None  # a fragment of the JSON arguments


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """Which model of the chain answers: sent once, just before that model's first delta."""

    provider: str
    model: str
    index: int  # position in the configured chain: 0 is the agent's own model, 1+ a fallback
    attempt: int  # 1-based count of attempts this request made, this one included
    first_token_ms: float


@dataclass(frozen=True, slots=True)
class ModelNotice:
    """Something a listener should hear about while waiting: the model stalled, or the next one takes over.

    ``failover``: ``provider``/``model`` failed (``code``) or missed the first-token deadline
    (``first_token_timeout``) and ``next_provider``/``next_model`` is tried now. ``stalled``: the last model of
    the chain missed the deadline; it is still being waited for.
    """

    kind: Literal["failover", "stalled"]
    provider: str
    model: str
    code: str
    next_provider: str | None = None
    next_model: str | None = None


@dataclass(frozen=True, slots=True)
class ChatDelta:
    content: str | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    route: ModelRoute | None = None  # metadata, no output (see ModelRoute)
    notice: ModelNotice | None = None  # metadata, no output (see ModelNotice)


@runtime_checkable
class ChatModel(Protocol):
    """A chat model. ``stream`` raises ``ProviderError`` subclasses, never SDK exceptions."""

    def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]: ...

    async def aclose(self) -> None: ...


class ChatModelFactory(Protocol):
    """Builds (or reuses) the chat model for one agent's LLM config. Never a shared mutable client."""

    def for_config(self, config: LLMConfig) -> ChatModel: ...

    def check(self, config: LLMConfig) -> None:
        """Raise ConfigError when a model of this chain cannot be reached from this server (no API key, no Azure
        endpoint), without building it: such an agent is refused when it is created, not failed at every turn."""
        ...
