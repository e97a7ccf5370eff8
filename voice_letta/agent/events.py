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
    """Text to speak. ``kind="filler"`` is a tool's pre_exec_msg, streamed while the tool call is written, or
    the short hold line ("One moment.") spoken when the model is slow and the next one of its chain takes over."""

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
class TurnRoute:
    """Who answered a turn: the model of its last model call, and whether a fallback model was used."""

    provider: str
    model: str
    fallback_used: bool  # any model call of the turn went to a model other than the agent's own
    first_token_ms: float | None  # the answering call's time to first token, from its request


@dataclass(frozen=True, slots=True)
class TurnFinished:
    turn_id: str
    finish_reason: Literal["stop", "length", "tool_calls", "content_filter", "error", "cancelled"]
    usage: Usage
    timings_ms: dict[str, float] = field(default_factory=dict)
    reply_message_id: str | None = None  # the stored assistant message that holds the spoken reply
    route: TurnRoute | None = None  # None when no model answered (replays, failures before any output)


@dataclass(frozen=True, slots=True)
class ReplyDone:
    """The model's reply is complete and nothing more will be said; the turn's end (the reply, the turn record, the
    lease) is stored next and ``TurnFinished`` follows. A consumer that delivers the reply can end its delivery
    here, and, by not asking for the next event until it has, make sure the turn is never recorded as completed
    while its reply was not yet handed over (chat completions: a resend after a cut would not be recognised)."""

    turn_id: str
    finish_reason: Literal["stop", "length", "tool_calls", "content_filter"]
    usage: Usage
    route: TurnRoute | None


AgentEvent = (
    TurnStarted | ContentDelta | ToolCallFragment | ToolStarted | ToolFinished | TurnError | ReplyDone | TurnFinished
)
