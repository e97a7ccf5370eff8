"""What a voice-agent turn emits, as typed past-tense events, consumed with ``match``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from voice_letta.agent.models import Usage


@dataclass(frozen=True, slots=True)
class TurnStarted:
    turn_id: str
    agent_id: str
    model: str


@dataclass(frozen=True, slots=True)
class ContentDelta:
    """Text to speak. ``kind="filler"`` is a tool's pre_exec_msg, streamed while the tool call is written."""

    text: str
    kind: Literal["content", "filler", "fallback"] = "content"


@dataclass(frozen=True, slots=True)
class ToolCallFragment:
    """A raw tool-call delta as the model produced it (index, and id/name on the first fragment)."""

    index: int
    call_id: str | None
    name: str | None
    arguments: str | None
    client_tool: bool  # True: the HTTP client executes it (its own tool), the turn ends after it


@dataclass(frozen=True, slots=True)
class ToolStarted:
    call_id: str
    name: str
    filler: str | None


@dataclass(frozen=True, slots=True)
class ToolFinished:
    call_id: str
    name: str
    ok: bool
    duration_ms: float
    output_preview: str


@dataclass(frozen=True, slots=True)
class TurnError:
    code: str
    message: str
    retryable: bool


@dataclass(frozen=True, slots=True)
class TurnFinished:
    turn_id: str
    finish_reason: Literal["stop", "length", "tool_calls", "content_filter", "error", "cancelled"]
    usage: Usage
    timings_ms: dict[str, float] = field(default_factory=dict)
    reply_message_id: str | None = None  # the stored assistant message that holds the spoken reply


AgentEvent = TurnStarted | ContentDelta | ToolCallFragment | ToolStarted | ToolFinished | TurnError | TurnFinished
