"""What a session tells its client, as typed facts; and what a protocol adapter may ask of a session.

The session core (``session.VoiceSession``) emits **events** (past-tense facts, frozen dataclasses) in the
order the client must see them; a protocol adapter turns each into zero or more wire messages when the
writer sends it: ``session.native`` into ``voice-letta.v1`` JSON (docs/protocol.md), ``session.realtime``
into OpenAI Realtime events. Audio frames travel separately (``Transport.send_bytes``), paced by
``Outbound``, between an ``AudioStarted`` and an ``AudioFinished`` of one response.

**Commands** are what an adapter that parses its own wire format hands to the session instead of native
JSON (``Transport.receive()`` may return one): the native client messages of ``wire.native`` plus the few
operations only richer protocols need (``AddInput``, ``CreateResponse`` options, ``Truncate``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from voice_letta.agent.models import ImagePart
from voice_letta.agent.ports import ToolChoice, ToolSpec
from voice_letta.wire import native as W

if TYPE_CHECKING:
    from voice_letta.agent.bus import MemoryUpdated
    from voice_letta.session.settings import Settings

Modality = Literal["audio", "text"]
TextKind = Literal["content", "filler", "fallback"]
ResponseStatus = Literal["completed", "cancelled", "failed"]


# --- events (session → adapter) -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SessionStarted:
    session_id: str
    settings: Settings  # a snapshot
    limits: dict[str, int]


@dataclass(frozen=True, slots=True)
class SessionChanged:
    settings: Settings  # a snapshot
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class UserSpeechStarted:
    utterance_id: str
    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class UserSpeechStopped:
    utterance_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class UtteranceCommitted:
    """An utterance went to speech-to-text (it becomes a turn or pending input once transcribed)."""

    utterance_id: str
    audio_ms: float


@dataclass(frozen=True, slots=True)
class UtteranceIgnored:
    """Speech over the agent that did not barge in (a cough, "uh-huh"): no turn."""

    utterance_id: str


@dataclass(frozen=True, slots=True)
class UtteranceDiscarded:
    """A commit with nothing usable buffered (``no_speech``, ``too_short``) or a clear of buffered audio."""

    reason: str


@dataclass(frozen=True, slots=True)
class Transcribed:
    """The words of an utterance (``utterance_id``) or a typed input (``source="text"``, no utterance)."""

    text: str
    audio_ms: float
    stt_ms: float
    source: Literal["audio", "text"] = "audio"
    utterance_id: str | None = None


@dataclass(frozen=True, slots=True)
class TranscriptPartial:
    """The words of an utterance that is still being spoken, as far as ``audio_ms`` of its audio."""

    utterance_id: str
    text: str
    audio_ms: float
    stt_ms: float


@dataclass(frozen=True, slots=True)
class TranscriptEmpty:
    """The utterance transcribed to nothing (noise the VAD let through): no turn."""

    utterance_id: str


@dataclass(frozen=True, slots=True)
class ResponseStarted:
    response_id: str
    agent_id: str
    modalities: tuple[Modality, ...]
    metadata: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class TurnOpened:
    """The agent accepted the turn (its input is stored): ``turn_id`` names the stored turn."""

    response_id: str
    turn_id: str


@dataclass(frozen=True, slots=True)
class TextOut:
    response_id: str
    text: str
    kind: TextKind = "content"


@dataclass(frozen=True, slots=True)
class ToolCallOut:
    """A fragment of a tool call the model is writing; ``client`` calls are the client's to run."""

    response_id: str
    index: int
    call_id: str | None
    name: str | None
    arguments: str | None
    client: bool


@dataclass(frozen=True, slots=True)
class ServerToolStarted:
    response_id: str
    call_id: str
    name: str
    filler: str | None


@dataclass(frozen=True, slots=True)
class ServerToolFinished:
    response_id: str
    call_id: str
    name: str
    ok: bool
    duration_ms: float
    output: str | None = None  # the start of what the tool returned (up to 200 characters)


@dataclass(frozen=True, slots=True)
class TextFinished:
    """The model's last word of the response (``finish_reason`` as in chat completions)."""

    response_id: str
    finish_reason: str


@dataclass(frozen=True, slots=True)
class AudioStarted:
    response_id: str
    sample_rate_hz: int


@dataclass(frozen=True, slots=True)
class AudioFinished:
    """Sent after the response's last audio frame."""

    response_id: str
    audio_ms: float


@dataclass(frozen=True, slots=True)
class PlaybackCleared:
    """Stop playing this response now and drop what is queued."""

    response_id: str


@dataclass(frozen=True, slots=True)
class ClientToolCall:
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ResponseEnded:
    response_id: str
    turn_id: str | None
    status: ResponseStatus
    finish_reason: str
    usage: dict[str, int]
    timings_ms: dict[str, float]
    text: str  # everything the response said (spoken or shown), as stored unless cut
    heard_text: str | None = None  # cancelled: what the stored reply now says
    audio_ms: float = 0.0  # audio synthesized for it
    tool_calls: tuple[ClientToolCall, ...] = ()  # client tools the client must run
    error_code: str | None = None
    error_message: str | None = None
    # who answered: provider, model, fallback, first_token_ms, usage_estimated (None: no model answered)
    route: dict[str, object] | None = None


@dataclass(frozen=True, slots=True)
class ResponseTruncated:
    """A reply was cut back to what the listener heard (``Truncate``)."""

    response_id: str
    heard_ms: float | None
    heard_text: str


@dataclass(frozen=True, slots=True)
class MemoryChanged:
    update: MemoryUpdated


@dataclass(frozen=True, slots=True)
class Pong:
    event_id: str | None


@dataclass(frozen=True, slots=True)
class ErrorRaised:
    """Something failed; the session goes on. The context says what it belongs to, if anything:
    ``utterance_id`` (its speech-to-text failed), ``response_id`` (the response failed or degraded) or
    ``event_id`` (the client message that was refused)."""

    code: str
    message: str
    retryable: bool = False
    event_id: str | None = None
    utterance_id: str | None = None
    response_id: str | None = None


SessionEvent = (
    SessionStarted | SessionChanged | UserSpeechStarted | UserSpeechStopped | UtteranceCommitted | UtteranceIgnored
    | UtteranceDiscarded | Transcribed | TranscriptPartial | TranscriptEmpty | ResponseStarted | TurnOpened | TextOut
    | ToolCallOut | ServerToolStarted | ServerToolFinished | TextFinished | AudioStarted | AudioFinished
    | PlaybackCleared | ResponseEnded | ResponseTruncated | MemoryChanged | Pong | ErrorRaised
)


# --- commands (adapter → session) -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AddInput:
    """Input that waits for the next response instead of starting one (Realtime ``conversation.item.create``).

    Pending input goes into the next turn (``CreateResponse``, or an utterance that starts one); whatever is
    still pending when the session ends is stored then.
    """

    user_text: str | None = None
    images: tuple[ImagePart, ...] = ()  # images the user attached (for agents whose model takes them)
    tool_result: tuple[str, str] | None = None  # (call_id, output) of a client tool
    assistant_text: str | None = None  # words the client spoke itself (a framework's own greeting)
    system_text: str | None = None  # a client system note: extra instructions, per client_system_prompt


@dataclass(frozen=True, slots=True)
class CreateResponse:
    """Respond now, to whatever input is pending (possibly none: the agent speaks first)."""

    instructions: str | None = None
    modalities: tuple[Modality, ...] | None = None  # None: the session's
    tools: tuple[ToolSpec, ...] | None = None  # None: the session's client tools
    tool_choice: ToolChoice | None = None  # None: the session's
    metadata: dict[str, str] | None = None
    event_id: str | None = None
    greeting: bool = False  # the agent's greeting (session.greeting)


@dataclass(frozen=True, slots=True)
class Truncate:
    """The listener heard only part of a response: ``heard_ms`` of its audio, or (text) ``heard_text``.

    The stored reply keeps only those words (the same rule as a barge-in).
    """

    response_id: str
    heard_ms: float | None = None
    heard_text: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateSession:
    """``session.update``: the native settings plus what richer protocols add (None: unchanged).

    Answered by one ``SessionChanged`` (or an ``ErrorRaised`` and no change at all).
    """

    session: W.SessionConfigIn
    instructions: str | None = None  # extra instructions for every response, per client_system_prompt
    tools: tuple[ToolSpec, ...] | None = None  # client tools (the client runs them)
    tool_choice: ToolChoice | None = None  # for each response's first model call
    auto_respond: bool | None = None  # False: a finished utterance waits for CreateResponse
    event_id: str | None = None


Command = AddInput | CreateResponse | Truncate | UpdateSession
