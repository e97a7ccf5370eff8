"""OpenAI Realtime server events (GA names and shapes), our own models: ``encode`` makes a JSON text frame.

The client side (parsing, errors, audio formats) is ``wire.realtime``; docs/protocol.md §Realtime lists every
event and field. Every event carries an ``event_id``; absent optional fields are left out of the JSON.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from voice_letta.errors import ProtocolViolation
from voice_letta.wire.realtime import AudioFormatType, Modality, ToolChoice, new_event_id


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerEvent(_Out):
    event_id: str = Field(default_factory=new_event_id)


class ErrorDetail(_Out):
    type: str = "invalid_request_error"
    code: str | None = None
    message: str
    param: str | None = None
    event_id: str | None = None


class ErrorEvent(ServerEvent):
    type: Literal["error"] = "error"
    error: ErrorDetail


class Warning(ServerEvent):
    """Vendor event (ignored by clients that do not know it): input accepted but not acted on."""

    type: Literal["voice_letta.warning"] = "voice_letta.warning"
    code: str
    message: str
    fields: list[str] = []


class BlockOut(_Out):
    label: str
    value: str
    version: int


class MemoryUpdated(ServerEvent):
    """Vendor event: the agent's memory changed (the sleeptime agent rewrote a block, passages were added)."""

    type: Literal["voice_letta.memory.updated"] = "voice_letta.memory.updated"
    agent_id: str
    blocks: list[BlockOut]
    passages_added: int
    reason: str
    passages_removed: int = 0


class AudioFormatOut(_Out):
    type: AudioFormatType
    rate: int | None = None


class TurnDetectionOut(_Out):
    type: Literal["server_vad", "semantic_vad"]
    threshold: float
    prefix_padding_ms: int
    silence_duration_ms: int
    create_response: bool
    interrupt_response: bool
    eagerness: str | None = None
    idle_timeout_ms: int | None = None


class TranscriptionOut(_Out):
    model: str
    language: str | None = None
    prompt: str | None = None


class AudioInputOut(_Out):
    format: AudioFormatOut
    transcription: TranscriptionOut | None
    noise_reduction: None = None
    turn_detection: TurnDetectionOut | None


class AudioOutputOut(_Out):
    format: AudioFormatOut
    voice: str
    speed: float = 1.0


class AudioOut(_Out):
    input: AudioInputOut
    output: AudioOutputOut


class SessionOut(_Out):
    type: Literal["realtime"] = "realtime"
    object: Literal["realtime.session"] = "realtime.session"
    id: str
    model: str
    output_modalities: list[Modality]
    instructions: str
    audio: AudioOut
    tools: list[dict[str, Any]]
    tool_choice: ToolChoice = "auto"
    max_output_tokens: int | Literal["inf"] = "inf"
    tracing: None = None
    prompt: None = None
    expires_at: int = 0
    include: None = None


class SessionCreated(ServerEvent):
    type: Literal["session.created"] = "session.created"
    session: SessionOut


class SessionUpdated(ServerEvent):
    type: Literal["session.updated"] = "session.updated"
    session: SessionOut


class ContentOut(_Out):
    type: Literal["input_text", "input_audio", "input_image", "output_text", "output_audio"]
    text: str | None = None
    transcript: str | None = None


class ItemOut(_Out):
    id: str
    object: Literal["realtime.item"] = "realtime.item"
    type: Literal["message", "function_call", "function_call_output"]
    status: Literal["completed", "incomplete", "in_progress"] = "completed"
    role: Literal["user", "assistant", "system"] | None = None
    content: list[ContentOut] | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None


class SpeechStarted(ServerEvent):
    type: Literal["input_audio_buffer.speech_started"] = "input_audio_buffer.speech_started"
    audio_start_ms: int
    item_id: str


class SpeechStopped(ServerEvent):
    type: Literal["input_audio_buffer.speech_stopped"] = "input_audio_buffer.speech_stopped"
    audio_end_ms: int
    item_id: str


class Committed(ServerEvent):
    type: Literal["input_audio_buffer.committed"] = "input_audio_buffer.committed"
    previous_item_id: str | None = None
    item_id: str


class Cleared(ServerEvent):
    type: Literal["input_audio_buffer.cleared"] = "input_audio_buffer.cleared"


class ItemAdded(ServerEvent):
    type: Literal["conversation.item.added"] = "conversation.item.added"
    previous_item_id: str | None = None
    item: ItemOut


class ItemDone(ServerEvent):
    type: Literal["conversation.item.done"] = "conversation.item.done"
    previous_item_id: str | None = None
    item: ItemOut


class ItemRetrieved(ServerEvent):
    type: Literal["conversation.item.retrieved"] = "conversation.item.retrieved"
    item: ItemOut


class ItemTruncated(ServerEvent):
    type: Literal["conversation.item.truncated"] = "conversation.item.truncated"
    item_id: str
    content_index: int = 0
    audio_end_ms: int


class ItemDeleted(ServerEvent):
    type: Literal["conversation.item.deleted"] = "conversation.item.deleted"
    item_id: str


class TranscriptionUsage(_Out):
    type: Literal["duration"] = "duration"
    seconds: float


class TranscriptionDelta(ServerEvent):
    type: Literal["conversation.item.input_audio_transcription.delta"] = (
        "conversation.item.input_audio_transcription.delta")
    item_id: str
    content_index: int = 0
    delta: str


class TranscriptionCompleted(ServerEvent):
    type: Literal["conversation.item.input_audio_transcription.completed"] = (
        "conversation.item.input_audio_transcription.completed")
    item_id: str
    content_index: int = 0
    transcript: str
    usage: TranscriptionUsage


class TranscriptionFailed(ServerEvent):
    type: Literal["conversation.item.input_audio_transcription.failed"] = (
        "conversation.item.input_audio_transcription.failed")
    item_id: str
    content_index: int = 0
    error: ErrorDetail


class TokenDetailsIn(_Out):
    text_tokens: int = 0
    audio_tokens: int = 0
    image_tokens: int = 0
    cached_tokens: int = 0
    cached_tokens_details: dict[str, int] = Field(
        default_factory=lambda: {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0})


class TokenDetailsOut(_Out):
    text_tokens: int = 0
    audio_tokens: int = 0


class Usage(_Out):
    total_tokens: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    input_token_details: TokenDetailsIn = Field(default_factory=TokenDetailsIn)
    output_token_details: TokenDetailsOut = Field(default_factory=TokenDetailsOut)


class StatusDetails(_Out):
    type: Literal["completed", "cancelled", "incomplete", "failed"]
    reason: str | None = None
    error: ErrorDetail | None = None


class ResponseAudioOutOut(_Out):
    format: AudioFormatOut
    voice: str


class ResponseAudioOut(_Out):
    output: ResponseAudioOutOut


ResponseStatusType = Literal["in_progress", "completed", "cancelled", "failed", "incomplete"]


class ResponseOut(_Out):
    id: str
    object: Literal["realtime.response"] = "realtime.response"
    status: ResponseStatusType
    status_details: StatusDetails | None = None
    output: list[ItemOut] = []
    conversation_id: str
    output_modalities: list[Modality]
    max_output_tokens: int | Literal["inf"] = "inf"
    audio: ResponseAudioOut
    usage: Usage | None = None
    metadata: dict[str, str] | None = None


class ResponseCreated(ServerEvent):
    type: Literal["response.created"] = "response.created"
    response: ResponseOut


class ResponseDone(ServerEvent):
    type: Literal["response.done"] = "response.done"
    response: ResponseOut


class OutputItemAdded(ServerEvent):
    type: Literal["response.output_item.added"] = "response.output_item.added"
    response_id: str
    output_index: int
    item: ItemOut


class OutputItemDone(ServerEvent):
    type: Literal["response.output_item.done"] = "response.output_item.done"
    response_id: str
    output_index: int
    item: ItemOut


class PartOut(_Out):
    type: Literal["audio", "text"]
    text: str | None = None
    transcript: str | None = None


class _Part(ServerEvent):
    response_id: str
    item_id: str
    output_index: int
    content_index: int = 0


class ContentPartAdded(_Part):
    type: Literal["response.content_part.added"] = "response.content_part.added"
    part: PartOut


class ContentPartDone(_Part):
    type: Literal["response.content_part.done"] = "response.content_part.done"
    part: PartOut


class TextDelta(_Part):
    type: Literal["response.output_text.delta"] = "response.output_text.delta"
    delta: str


class TextDone(_Part):
    type: Literal["response.output_text.done"] = "response.output_text.done"
    text: str


class AudioTranscriptDelta(_Part):
    type: Literal["response.output_audio_transcript.delta"] = "response.output_audio_transcript.delta"
    delta: str


class AudioTranscriptDone(_Part):
    type: Literal["response.output_audio_transcript.done"] = "response.output_audio_transcript.done"
    transcript: str


class AudioDelta(_Part):
    type: Literal["response.output_audio.delta"] = "response.output_audio.delta"
    delta: str


class AudioDone(_Part):
    type: Literal["response.output_audio.done"] = "response.output_audio.done"


class FunctionArgumentsDelta(ServerEvent):
    type: Literal["response.function_call_arguments.delta"] = "response.function_call_arguments.delta"
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    delta: str


class FunctionArgumentsDone(ServerEvent):
    type: Literal["response.function_call_arguments.done"] = "response.function_call_arguments.done"
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    name: str
    arguments: str


class RateLimit(_Out):
    name: Literal["requests", "tokens"]
    limit: int
    remaining: int
    reset_seconds: float


class RateLimitsUpdated(ServerEvent):
    type: Literal["rate_limits.updated"] = "rate_limits.updated"
    rate_limits: list[RateLimit]


def encode(event: ServerEvent) -> str:
    """A server event as a compact JSON text frame (absent optional fields are left out)."""
    return event.model_dump_json(exclude_none=True)


def error_event(exc: ProtocolViolation, *, type_: str = "invalid_request_error") -> ErrorEvent:
    param = getattr(exc, "param", None)
    event_id = getattr(exc, "event_id", None)
    return ErrorEvent(error=ErrorDetail(type=type_, code=exc.code, message=exc.message, param=param,
                                        event_id=event_id))
