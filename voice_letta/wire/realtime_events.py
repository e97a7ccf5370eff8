"""OpenAI Realtime server events (GA names and shapes), our own models: ``encode`` makes a JSON text frame.

The client side (parsing, errors, audio formats) is ``wire.realtime``, the resources the events carry (session,
items, responses, usage) ``wire.realtime_objects``; docs/protocol.md §Realtime lists every event and field.
Every event carries an ``event_id``; absent optional fields are left out of the JSON.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from voice_letta.errors import ProtocolViolation
from voice_letta.wire.realtime import new_event_id
from voice_letta.wire.realtime_objects import (
    AudioFormatOut,
    AudioInputOut,
    AudioOut,
    AudioOutputOut,
    BlockOut,
    ContentOut,
    ErrorDetail,
    ItemOut,
    OutModel,
    PartOut,
    RateLimit,
    ResponseAudioOut,
    ResponseAudioOutOut,
    ResponseOut,
    ResponseStatusType,
    SessionOut,
    StatusDetails,
    TokenDetailsIn,
    TokenDetailsOut,
    TranscriptionOut,
    TranscriptionUsage,
    TurnDetectionOut,
    Usage,
)

__all__ = [  # the resources are defined in wire.realtime_objects and re-exported: adapters use one namespace
    "AudioDelta", "AudioDone", "AudioFormatOut", "AudioInputOut", "AudioOut", "AudioOutputOut",
    "AudioTranscriptDelta", "AudioTranscriptDone", "BlockOut", "Cleared", "Committed", "ContentOut",
    "ContentPartAdded", "ContentPartDone", "ErrorDetail", "ErrorEvent", "FunctionArgumentsDelta",
    "FunctionArgumentsDone", "ItemAdded", "ItemDeleted", "ItemDone", "ItemOut", "ItemRetrieved", "ItemTruncated",
    "MemoryUpdated", "OutModel", "OutputItemAdded", "OutputItemDone", "PartOut", "RateLimit", "RateLimitsUpdated",
    "ResponseAudioOut", "ResponseAudioOutOut", "ResponseCreated", "ResponseDone", "ResponseOut", "ResponseStatusType",
    "ServerEvent", "SessionCreated", "SessionOut", "SessionUpdated", "SpeechStarted", "SpeechStopped",
    "StatusDetails", "TextDelta", "TextDone", "TokenDetailsIn", "TokenDetailsOut", "TranscriptionCompleted",
    "TranscriptionDelta", "TranscriptionFailed", "TranscriptionOut", "TranscriptionUsage", "TurnDetectionOut",
    "Usage", "Warning", "encode", "error_event",
]


class ServerEvent(OutModel):
    event_id: str = Field(default_factory=new_event_id)


class ErrorEvent(ServerEvent):
    type: Literal["error"] = "error"
    error: ErrorDetail


class Warning(ServerEvent):
    """Vendor event (ignored by clients that do not know it): input accepted but not acted on."""

    type: Literal["voice_letta.warning"] = "voice_letta.warning"
    code: str
    message: str
    fields: list[str] = Field(default_factory=list)


class MemoryUpdated(ServerEvent):
    """Vendor event: the agent's memory changed (the sleeptime agent rewrote a block, passages were added)."""

    type: Literal["voice_letta.memory.updated"] = "voice_letta.memory.updated"
    agent_id: str
    blocks: list[BlockOut]
    passages_added: int
    reason: str
    passages_removed: int = 0


class SessionCreated(ServerEvent):
    type: Literal["session.created"] = "session.created"
    session: SessionOut


class SessionUpdated(ServerEvent):
    type: Literal["session.updated"] = "session.updated"
    session: SessionOut


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
