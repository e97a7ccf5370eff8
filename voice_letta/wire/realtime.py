"""The OpenAI Realtime protocol (GA names and shapes), sans-I/O: ``GET /v1/realtime`` (docs/protocol.md §Realtime).

Client events are pydantic models mirroring the GA shapes of the ``openai`` SDK's ``types/realtime``, parsed
by one module-level ``TypeAdapter`` (``parse_client``). They are third-party shapes, so unknown fields are
kept (``extra="allow"``) rather than rejected: ``unsupported_fields(event)`` lists every field the server
does not act on (unknown ones and known ones it does not implement), so the driver can report each once
instead of silently misreading it. Malformed input raises ``ProtocolViolation`` whose ``code`` is a Realtime
error code (``invalid_json``, ``invalid_value``, ``missing_required_parameter``, ``unknown_event`` …);
``error_event`` turns one into the Realtime ``error`` event.

Server events are in ``wire.realtime_events``. Audio is base64 in the session's format: ``audio/pcm`` (PCM16 LE
mono 24 kHz) or G.711 ``audio/pcmu`` / ``audio/pcma`` at 8 kHz (``decode_audio`` / ``encode_audio``).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from voice_letta.core import codecs
from voice_letta.errors import ProtocolViolation
from voice_letta.wire._json import json_object, refuse_nul

PCM_RATE_HZ = 24_000
G711_RATE_HZ = 8_000
#: Largest client event (a base64 ``input_audio_buffer.append`` of ~10 s of 24 kHz audio fits easily).
MAX_EVENT_BYTES = 1_048_576
MAX_INSTRUCTIONS_CHARS = 16_000
MAX_ITEM_TEXT_CHARS = 4_000
#: Message text of items waiting for the next response: one turn's input, bounded like one (a 1.2M-character turn
#: made ~100 sleeptime jobs and every next turn of an agent on the embedded model timed out).
MAX_PENDING_TEXT_CHARS = 100_000  # = session.pending.MAX_TURN_TEXT_CHARS

AudioFormatType = Literal["audio/pcm", "audio/pcmu", "audio/pcma"]
Modality = Literal["text", "audio"]


def new_event_id() -> str:
    return f"event_{uuid.uuid4().hex[:20]}"


def new_item_id() -> str:
    return f"item_{uuid.uuid4().hex[:20]}"


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:20]}"


# --- client → server -------------------------------------------------------------------------------------


class _In(BaseModel):
    """A third-party shape: unknown fields are kept and reported, never silently dropped."""

    model_config = ConfigDict(extra="allow", frozen=True)
    #: Known GA fields this server accepts but does not act on (reported like unknown ones).
    unsupported: ClassVar[frozenset[str]] = frozenset()


class AudioFormat(_In):
    type: AudioFormatType
    rate: int | None = None

    def sample_rate_hz(self) -> int:
        return PCM_RATE_HZ if self.type == "audio/pcm" else G711_RATE_HZ


class TurnDetection(_In):
    type: Literal["server_vad", "semantic_vad"]
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    prefix_padding_ms: int | None = Field(default=None, ge=0, le=2_000)
    silence_duration_ms: int | None = Field(default=None, ge=100, le=10_000)
    create_response: bool | None = None
    interrupt_response: bool | None = None
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    idle_timeout_ms: int | None = None
    unsupported: ClassVar[frozenset[str]] = frozenset({"idle_timeout_ms"})


class Transcription(_In):
    model: str | None = None
    language: str | None = None
    prompt: str | None = None
    unsupported: ClassVar[frozenset[str]] = frozenset({"model", "prompt"})


class NoiseReduction(_In):
    type: Literal["near_field", "far_field"] | None = None
    unsupported: ClassVar[frozenset[str]] = frozenset({"type"})


class AudioInput(_In):
    format: AudioFormat | None = None
    transcription: Transcription | None = None
    noise_reduction: NoiseReduction | None = None
    turn_detection: TurnDetection | None = None


class AudioOutput(_In):
    format: AudioFormat | None = None
    voice: str | None = Field(default=None, max_length=100)
    speed: float | None = Field(default=None, ge=0.25, le=1.5)
    unsupported: ClassVar[frozenset[str]] = frozenset({"speed"})


class Audio(_In):
    input: AudioInput | None = None
    output: AudioOutput | None = None


class FunctionTool(_In):
    type: Literal["function"] = "function"
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str | None = None
    parameters: dict[str, Any] | None = None


ToolChoice = Literal["auto", "none", "required"]


class SessionConfig(_In):
    type: Literal["realtime"] | None = None
    model: str | None = None
    instructions: str | None = Field(default=None, max_length=MAX_INSTRUCTIONS_CHARS)
    output_modalities: list[Modality] | None = Field(default=None, min_length=1, max_length=1)
    audio: Audio | None = None
    tools: list[FunctionTool] | None = None
    tool_choice: ToolChoice | dict[str, Any] | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    tracing: Any = None
    truncation: Any = None
    prompt: Any = None
    include: Any = None
    reasoning: Any = None
    parallel_tool_calls: bool | None = None
    unsupported: ClassVar[frozenset[str]] = frozenset(
        {"max_output_tokens", "tracing", "truncation", "prompt", "include", "reasoning", "parallel_tool_calls"})


class Content(_In):
    type: Literal["input_text", "input_audio", "input_image", "output_text", "output_audio", "text", "audio"]
    text: str | None = Field(default=None, max_length=MAX_ITEM_TEXT_CHARS)
    audio: str | None = None
    transcript: str | None = Field(default=None, max_length=MAX_ITEM_TEXT_CHARS)
    image_url: str | None = Field(default=None, max_length=MAX_EVENT_BYTES)
    detail: Literal["auto", "low", "high"] | None = None
    unsupported: ClassVar[frozenset[str]] = frozenset({"audio"})

    def words(self) -> str:
        return (self.text if self.text is not None else self.transcript) or ""


class MessageItem(_In):
    type: Literal["message"]
    id: str | None = Field(default=None, min_length=1, max_length=64)
    role: Literal["user", "assistant", "system"]
    content: list[Content] = Field(max_length=16)
    status: str | None = None
    object: str | None = None

    def text(self) -> str:
        return " ".join(w for c in self.content if (w := c.words().strip()))


class FunctionCallItem(_In):
    type: Literal["function_call"]
    id: str | None = Field(default=None, min_length=1, max_length=64)
    call_id: str | None = Field(default=None, max_length=64)
    name: str
    arguments: str = ""
    status: str | None = None
    object: str | None = None


class FunctionCallOutputItem(_In):
    type: Literal["function_call_output"]
    id: str | None = Field(default=None, min_length=1, max_length=64)
    call_id: str = Field(min_length=1, max_length=64)
    output: str = Field(max_length=64_000)
    status: str | None = None
    object: str | None = None


Item = Annotated[MessageItem | FunctionCallItem | FunctionCallOutputItem, Field(discriminator="type")]


class ResponseAudio(_In):
    output: AudioOutput | None = None


class ResponseParams(_In):
    instructions: str | None = Field(default=None, max_length=MAX_INSTRUCTIONS_CHARS)
    output_modalities: list[Modality] | None = Field(default=None, min_length=1, max_length=1)
    metadata: dict[str, str] | None = None
    tools: list[FunctionTool] | None = None
    tool_choice: ToolChoice | dict[str, Any] | None = None
    audio: ResponseAudio | None = None
    conversation: str | None = None
    input: list[Any] | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    temperature: float | None = None
    prompt: Any = None
    reasoning: Any = None
    parallel_tool_calls: bool | None = None
    unsupported: ClassVar[frozenset[str]] = frozenset(
        {"audio", "max_output_tokens", "temperature", "prompt", "reasoning", "parallel_tool_calls"})


class _Event(_In):
    event_id: str | None = Field(default=None, max_length=100)


class SessionUpdate(_Event):
    type: Literal["session.update"]
    session: SessionConfig


class InputAudioBufferAppend(_Event):
    type: Literal["input_audio_buffer.append"]
    audio: str


class InputAudioBufferCommit(_Event):
    type: Literal["input_audio_buffer.commit"]


class InputAudioBufferClear(_Event):
    type: Literal["input_audio_buffer.clear"]


class OutputAudioBufferClear(_Event):
    type: Literal["output_audio_buffer.clear"]
    response_id: str | None = None


class ConversationItemCreate(_Event):
    type: Literal["conversation.item.create"]
    previous_item_id: str | None = None
    item: Item


class ConversationItemTruncate(_Event):
    type: Literal["conversation.item.truncate"]
    item_id: str = Field(min_length=1, max_length=64)
    content_index: int = Field(default=0, ge=0)
    audio_end_ms: int = Field(ge=0)


class ConversationItemDelete(_Event):
    type: Literal["conversation.item.delete"]
    item_id: str = Field(min_length=1, max_length=64)


class ConversationItemRetrieve(_Event):
    type: Literal["conversation.item.retrieve"]
    item_id: str = Field(min_length=1, max_length=64)


class ResponseCreate(_Event):
    type: Literal["response.create"]
    response: ResponseParams | None = None


class ResponseCancel(_Event):
    type: Literal["response.cancel"]
    response_id: str | None = None


ClientEvent = Annotated[
    SessionUpdate | InputAudioBufferAppend | InputAudioBufferCommit | InputAudioBufferClear
    | OutputAudioBufferClear | ConversationItemCreate | ConversationItemTruncate | ConversationItemDelete
    | ConversationItemRetrieve | ResponseCreate | ResponseCancel,
    Field(discriminator="type"),
]
CLIENT_TYPES = frozenset({
    "session.update", "input_audio_buffer.append", "input_audio_buffer.commit", "input_audio_buffer.clear",
    "output_audio_buffer.clear", "conversation.item.create", "conversation.item.truncate",
    "conversation.item.delete", "conversation.item.retrieve", "response.create", "response.cancel",
})
_CLIENT: TypeAdapter[ClientEvent] = TypeAdapter(ClientEvent)


class RealtimeViolation(ProtocolViolation):
    """Malformed Realtime input: ``code``/``param``/``event_id`` go into the ``error`` event."""

    def __init__(self, message: str, *, code: str, param: str | None = None, event_id: str | None = None) -> None:
        super().__init__(message, code=code)
        self.param = param
        self.event_id = event_id


def parse_client(text: str) -> ClientEvent:
    """One JSON text frame → a typed client event; ``RealtimeViolation`` when malformed."""
    try:
        raw = json_object(text, max_bytes=MAX_EVENT_BYTES, what="Realtime events")
    except ProtocolViolation as exc:
        raise RealtimeViolation(exc.message, code=exc.code) from exc
    event_id = raw.get("event_id") if isinstance(raw.get("event_id"), str) else None
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise RealtimeViolation("The 'type' field is missing or not a string.", code="missing_required_parameter",
                                param="type", event_id=event_id)
    if kind not in CLIENT_TYPES:
        raise RealtimeViolation(f"Invalid value: {kind[:60]!r}. This server supports: "
                                + ", ".join(sorted(CLIENT_TYPES)) + ".", code="invalid_value", param="type",
                                event_id=event_id)
    try:
        # strict on JSON types: "threshold": true is not 1.0, "800" is not 800, "false" is not false
        event = _CLIENT.validate_python(raw, strict=True)
        refuse_nul(text, raw)
        return event
    except ProtocolViolation as exc:
        raise RealtimeViolation(f"Invalid value: '{exc.param or kind}'. The text may not contain the NUL character "
                                "(U+0000).", code="invalid_value",
                                param=exc.param, event_id=event_id) from exc
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err.get("loc", ())[1:] if not str(p).startswith(("function", "message"))]
        param = ".".join(loc) or None
        missing = err.get("type") == "missing"
        what = "Missing required parameter" if missing else "Invalid value"
        raise RealtimeViolation(f"{what}: '{param or kind}'. {err.get('msg', '')}".rstrip(". ") + ".",
                                code="missing_required_parameter" if missing else "invalid_value",
                                param=param, event_id=event_id) from exc


def unsupported_fields(model: BaseModel, prefix: str = "") -> list[str]:
    """Dotted paths of the fields set in ``model`` that this server does not act on (unknown or unsupported)."""
    out: list[str] = []
    if isinstance(model, _In):
        for name in sorted((model.model_extra or {}).keys()):
            out.append(prefix + name)
        for name in sorted(model.model_fields_set & model.unsupported):
            if getattr(model, name) is not None:
                out.append(prefix + name)
    for name in model.model_fields_set:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            out.extend(unsupported_fields(value, f"{prefix}{name}."))
        elif isinstance(value, list):
            for v in value:
                if isinstance(v, BaseModel):
                    out.extend(unsupported_fields(v, f"{prefix}{name}[]."))
    return out


def decode_audio(b64: str, fmt: AudioFormatType) -> bytes:
    """A base64 ``input_audio_buffer.append`` payload → PCM16 LE mono (24 kHz, or 8 kHz for G.711)."""
    try:
        data = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RealtimeViolation("Invalid 'audio': not valid base64.", code="invalid_value", param="audio") from exc
    if fmt == "audio/pcm":
        if len(data) % 2:
            raise RealtimeViolation("Invalid 'audio': audio/pcm needs whole 16-bit samples.", code="invalid_value",
                                    param="audio")
        return data
    return codecs.ulaw_to_pcm16(data) if fmt == "audio/pcmu" else codecs.alaw_to_pcm16(data)


def encode_audio(pcm16: bytes, fmt: AudioFormatType) -> str:
    """PCM16 at the format's rate → the base64 ``delta`` of ``response.output_audio.delta``."""
    if fmt == "audio/pcmu":
        pcm16 = codecs.pcm16_to_ulaw(pcm16)
    elif fmt == "audio/pcma":
        pcm16 = codecs.pcm16_to_alaw(pcm16)
    return base64.b64encode(pcm16).decode("ascii")
