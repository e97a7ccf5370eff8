"""The native voice WebSocket protocol ``voice-letta.v1`` (docs/protocol.md): typed messages, sans-I/O.

Client → server JSON messages are pydantic models with a ``type`` discriminator and ``extra="forbid"``,
parsed by one module-level ``TypeAdapter`` (``parse_client``). Binary frames are PCM16 LE mono audio and
are checked by ``check_audio_frame``. Every malformed input raises ``ProtocolViolation`` with a stable
``code``; the driver answers with an ``error`` message and the session goes on.

Server → client messages are models too (``encode`` turns one into a JSON text frame). The
``chat.completion.chunk`` objects inside ``response.chunk`` mirror OpenAI's schema
(``voice_letta.wire.openai_chat.chunk``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from voice_letta import config as C
from voice_letta.core.turns import EndOfTurnMode, TurnMode, VadParams
from voice_letta.errors import ProtocolViolation
from voice_letta.wire._json import json_object, refuse_nul

PROTOCOL = "voice-letta.v1"
SAMPLE_RATES_HZ: tuple[int, ...] = C.SUPPORTED_SAMPLE_RATES_HZ
DEFAULT_INPUT_RATE_HZ = C.DEFAULT_INPUT_RATE_HZ
DEFAULT_OUTPUT_RATE_HZ = 24000
#: Protocol limits (an oversize frame gets an ``error`` and is dropped; the session goes on).
MAX_AUDIO_FRAME_BYTES = 96_000  # 1 s at 48 kHz
MAX_TEXT_FRAME_BYTES = 16_384
MAX_INPUT_TEXT_CHARS = 4_000

SampleRate = Literal[8000, 16000, 24000, 48000]
# Output may also use the rates sound cards run at (browsers often run at 44.1 kHz), so the server's
# resampler, not the client's, does the conversion.
OutputSampleRate = Literal[8000, 16000, 22050, 24000, 44100, 48000]
VadEngine = Literal["webrtc", "silero"]
#: ``["audio"]``: spoken replies (their text streams too); ``["text"]``: text only, no speech synthesis.
Modality = Literal["audio", "text"]
MAX_INSTRUCTIONS_CHARS = 8_000


class _Client(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- client → server -----------------------------------------------------------------------------------


class VadConfig(_Client):
    """``VadParams`` plus the engine and the barge-in settings; omitted fields keep their current value."""

    engine: VadEngine | None = None
    aggressiveness: int | None = Field(default=None, ge=0, le=3)
    min_speech_ms: int | None = Field(default=None, ge=0, le=5_000)
    silence_ms: int | None = Field(default=None, ge=100, le=10_000)
    prefix_padding_ms: int | None = Field(default=None, ge=0, le=2_000)
    max_utterance_ms: int | None = Field(default=None, ge=1_000, le=300_000)
    min_volume_dbfs: float | None = Field(default=None, ge=-120.0, le=0.0)
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    barge_in_min_ms: int | None = Field(default=None, ge=0, le=5_000)
    barge_in: bool | None = None  # false: user speech never interrupts (response.cancel still does)
    end_of_turn: EndOfTurnMode | None = None  # "words": the pause that ends a turn depends on the words so far
    min_silence_ms: int | None = Field(default=None, ge=100, le=10_000)  # after a complete question
    max_silence_ms: int | None = Field(default=None, ge=100, le=10_000)  # after an unfinished phrase


class SessionConfigIn(_Client):
    agent: str | None = Field(default=None, min_length=1, max_length=200)
    input_sample_rate_hz: SampleRate | None = None
    output_sample_rate_hz: OutputSampleRate | None = None
    turn_mode: TurnMode | None = None
    vad: VadConfig | None = None
    voice: str | None = Field(default=None, max_length=100)
    output_modalities: list[Modality] | None = Field(default=None, min_length=1, max_length=1)
    partial_transcripts: bool | None = None  # transcript.partial while the user speaks


class SessionUpdate(_Client):
    type: Literal["session.update"]
    session: SessionConfigIn
    event_id: str | None = Field(default=None, max_length=100)


class InputText(_Client):
    type: Literal["input_text"]
    text: str = Field(min_length=1, max_length=MAX_INPUT_TEXT_CHARS)
    event_id: str | None = Field(default=None, max_length=100)
    # epoch seconds; default: now (strict: a JSON true is not the second 1 of 1970)
    said_at: float | None = Field(default=None, ge=0, allow_inf_nan=False, strict=True)


class InputAudioCommit(_Client):
    type: Literal["input_audio.commit"]
    event_id: str | None = Field(default=None, max_length=100)


class InputAudioClear(_Client):
    type: Literal["input_audio.clear"]
    event_id: str | None = Field(default=None, max_length=100)


class ResponseCreate(_Client):
    """Respond now without new user input (the agent speaks first, or answers what is pending)."""

    type: Literal["response.create"]
    instructions: str | None = Field(default=None, max_length=MAX_INSTRUCTIONS_CHARS)
    output_modalities: list[Modality] | None = Field(default=None, min_length=1, max_length=1)
    greeting: bool = False  # respond with the agent's greeting (its voice.greeting: fixed text or generated)
    event_id: str | None = Field(default=None, max_length=100)


class ResponseCancel(_Client):
    type: Literal["response.cancel"]
    response_id: str | None = None
    event_id: str | None = Field(default=None, max_length=100)


class PlaybackProgress(_Client):
    type: Literal["playback.progress"]
    response_id: str = Field(min_length=1, max_length=100)
    played_ms: float = Field(ge=0, le=3_600_000)


class PlaybackStopped(_Client):
    """The final playback report of a response: played to the end, or stopped (after ``playback.clear``)."""

    type: Literal["playback.stopped"]
    response_id: str = Field(min_length=1, max_length=100)
    played_ms: float = Field(ge=0, le=3_600_000)
    reason: Literal["finished", "cleared", "interrupted"] = "cleared"


class Ping(_Client):
    type: Literal["ping"]
    event_id: str | None = Field(default=None, max_length=100)


ClientMessage = Annotated[
    SessionUpdate
    | InputText
    | InputAudioCommit
    | InputAudioClear
    | ResponseCreate
    | ResponseCancel
    | PlaybackProgress
    | PlaybackStopped
    | Ping,
    Field(discriminator="type"),
]
MAX_EVENT_ID_CHARS = 100  # the event_id limit of every client message
CLIENT_TYPES = (
    "session.update", "input_text", "input_audio.commit", "input_audio.clear", "response.create", "response.cancel",
    "playback.progress", "playback.stopped", "ping",
)
_CLIENT: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


def parse_client(text: str) -> ClientMessage:
    """One JSON text frame → a typed message; ``ProtocolViolation`` (with a ``code``) when malformed."""
    raw = json_object(text, max_bytes=MAX_TEXT_FRAME_BYTES, what="text frames")
    kind = raw.get("type")
    event_id = raw.get("event_id")
    violation: ProtocolViolation | None = None
    if not isinstance(kind, str):
        violation = ProtocolViolation("every message needs a string 'type'", code="invalid_event")
    elif kind not in CLIENT_TYPES:
        violation = ProtocolViolation(f"unknown event type {kind[:60]!r}", code="unknown_event")
    else:
        try:
            # strict on JSON types: "threshold": true is not 1.0, "800" is not 800, "false" is not false
            message = _CLIENT.validate_python(raw, strict=True)
            refuse_nul(text, raw)
            return message
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err.get("loc", ())[1:]) or kind
            violation = ProtocolViolation(f"invalid {kind}: {where}: {err.get('msg', 'invalid')}",
                                          code="invalid_event")
        except ProtocolViolation as exc:
            violation = ProtocolViolation(f"invalid {kind}: {exc.message}", code="invalid_event")
    # the error names the refused message when its event_id is readable, so a client can match them up
    violation.event_id = event_id if isinstance(event_id, str) and len(event_id) <= MAX_EVENT_ID_CHARS else None
    raise violation


def check_audio_frame(data: bytes) -> None:
    """Validate one binary frame of PCM16 LE mono audio (any length up to the limit, whole samples)."""
    if len(data) > MAX_AUDIO_FRAME_BYTES:
        raise ProtocolViolation(
            f"audio frame of {len(data)} bytes is over the {MAX_AUDIO_FRAME_BYTES}-byte limit", code="frame_too_large")
    if len(data) % 2:
        raise ProtocolViolation("audio frames must hold whole 16-bit samples (even length)", code="odd_frame_length")


def merge_vad(params: VadParams, cfg: VadConfig | None) -> VadParams:
    """Apply the ``VadParams`` fields of a ``vad`` update; raises ``ProtocolViolation`` if inconsistent."""
    if cfg is None:
        return params
    fields = {k: v for k, v in cfg.model_dump(exclude_none=True).items() if k in VadParams.model_fields}
    if not fields:
        return params
    try:
        return VadParams(**{**params.model_dump(), **fields})
    except ValidationError as exc:
        raise ProtocolViolation(f"invalid vad parameters: {exc.errors()[0].get('msg')}", code="invalid_event") from exc


# --- server → client -----------------------------------------------------------------------------------


class _Server(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VadState(_Server):
    engine: VadEngine
    aggressiveness: int
    min_speech_ms: int
    silence_ms: int
    prefix_padding_ms: int
    max_utterance_ms: int
    min_volume_dbfs: float
    threshold: float
    barge_in_min_ms: int
    barge_in: bool
    end_of_turn: EndOfTurnMode
    min_silence_ms: int
    max_silence_ms: int


class SessionState(_Server):
    agent: str | None
    input_sample_rate_hz: int
    output_sample_rate_hz: int
    turn_mode: TurnMode
    vad: VadState
    voice: str | None
    output_modalities: list[Modality] = ["audio"]
    partial_transcripts: bool
    input_format: Literal["pcm16"] = "pcm16"
    output_format: Literal["pcm16"] = "pcm16"


class SessionCreated(_Server):
    type: Literal["session.created"] = "session.created"
    protocol: str = PROTOCOL
    session_id: str
    session: SessionState
    limits: dict[str, int]


class SessionUpdated(_Server):
    type: Literal["session.updated"] = "session.updated"
    session: SessionState
    event_id: str | None = None


class SpeechStartedOut(_Server):
    type: Literal["speech.started"] = "speech.started"
    audio_start_ms: int


class SpeechStoppedOut(_Server):
    type: Literal["speech.stopped"] = "speech.stopped"
    audio_end_ms: int


class TranscriptFinal(_Server):
    type: Literal["transcript.final"] = "transcript.final"
    text: str
    audio_ms: float
    stt_ms: float
    source: Literal["audio", "text"] = "audio"


class TranscriptPartial(_Server):
    """The words of the utterance still being spoken, so far; replaces the previous partial of that utterance."""

    type: Literal["transcript.partial"] = "transcript.partial"
    text: str
    audio_ms: float
    stt_ms: float


class InputAudioEmpty(_Server):
    """Input ended with no words in it: nothing to answer (and no caption to keep)."""

    type: Literal["input_audio.empty"] = "input_audio.empty"
    reason: Literal["no_speech", "too_short", "no_words"]


class ResponseCreated(_Server):
    type: Literal["response.created"] = "response.created"
    response_id: str


class ResponseChunk(_Server):
    type: Literal["response.chunk"] = "response.chunk"
    response_id: str
    chunk: dict[str, Any]  # an OpenAI chat.completion.chunk
    # For content chunks: "filler" is a tool's spoken pre_exec_msg, "fallback" the sentence spoken on errors.
    kind: Literal["content", "filler", "fallback"] | None = None


class ToolStartedOut(_Server):
    type: Literal["tool.started"] = "tool.started"
    response_id: str
    call_id: str
    name: str
    filler: str | None


class ToolFinishedOut(_Server):
    type: Literal["tool.finished"] = "tool.finished"
    response_id: str
    call_id: str
    name: str
    ok: bool
    duration_ms: float
    output: str | None = None  # the start of the tool's result (up to 200 characters), as the model saw it


class AudioStart(_Server):
    type: Literal["response.audio.start"] = "response.audio.start"
    response_id: str
    sample_rate_hz: int
    format: Literal["pcm16"] = "pcm16"


class AudioDone(_Server):
    type: Literal["response.audio.done"] = "response.audio.done"
    response_id: str
    audio_ms: float


class PlaybackClear(_Server):
    type: Literal["playback.clear"] = "playback.clear"
    response_id: str


class ResponseDone(_Server):
    type: Literal["response.done"] = "response.done"
    response_id: str
    turn_id: str | None
    status: Literal["completed", "cancelled", "failed"]
    finish_reason: str
    usage: dict[str, int]
    timings_ms: dict[str, float]
    heard_text: str | None = None  # set when the response was cut: what the stored reply now says
    # who answered: {"provider", "model", "fallback", "first_token_ms", "usage_estimated"}; None when no model did
    route: dict[str, Any] | None = None


class BlockOut(_Server):
    label: str
    value: str
    version: int


class MemoryUpdatedOut(_Server):
    type: Literal["memory.updated"] = "memory.updated"
    agent_id: str
    blocks: list[BlockOut]
    passages_added: int
    reason: str
    passages_removed: int = 0


class Pong(_Server):
    type: Literal["pong"] = "pong"
    event_id: str | None = None


class ErrorOut(_Server):
    type: Literal["error"] = "error"
    code: str
    message: str
    retryable: bool = False
    event_id: str | None = None


ServerMessage = (
    SessionCreated | SessionUpdated | SpeechStartedOut | SpeechStoppedOut | TranscriptFinal | TranscriptPartial
    | InputAudioEmpty | ResponseCreated
    | ResponseChunk | ToolStartedOut | ToolFinishedOut | AudioStart | AudioDone | PlaybackClear | ResponseDone
    | MemoryUpdatedOut | Pong | ErrorOut
)


def encode(message: ServerMessage) -> str:
    """A server message as a compact JSON text frame."""
    return message.model_dump_json(exclude_none=False)
