"""OpenAI Realtime resources (GA shapes), our own models: the session, conversation items and their content,
responses with their usage and status, rate limits. Server events (``wire.realtime_events``) carry them, and
re-export them so adapters use one namespace. Absent optional fields are left out of the JSON.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from voice_letta.wire.realtime import AudioFormatType, Modality, ToolChoice


class OutModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(OutModel):
    type: str = "invalid_request_error"
    code: str | None = None
    message: str
    param: str | None = None
    event_id: str | None = None


class BlockOut(OutModel):
    label: str
    value: str
    version: int


class AudioFormatOut(OutModel):
    type: AudioFormatType
    rate: int | None = None


class TurnDetectionOut(OutModel):
    type: Literal["server_vad", "semantic_vad"]
    threshold: float
    prefix_padding_ms: int
    silence_duration_ms: int
    create_response: bool
    interrupt_response: bool
    eagerness: str | None = None
    idle_timeout_ms: int | None = None


class TranscriptionOut(OutModel):
    model: str
    language: str | None = None
    prompt: str | None = None


class AudioInputOut(OutModel):
    format: AudioFormatOut
    transcription: TranscriptionOut | None
    noise_reduction: None = None
    turn_detection: TurnDetectionOut | None


class AudioOutputOut(OutModel):
    format: AudioFormatOut
    voice: str
    speed: float = 1.0


class AudioOut(OutModel):
    input: AudioInputOut
    output: AudioOutputOut


class SessionOut(OutModel):
    type: Literal["realtime"] = "realtime"
    object: Literal["realtime.session"] = "realtime.session"
    id: str
    model: str
    output_modalities: list[Modality]
    instructions: str
    audio: AudioOut
    tools: list[dict[str, Any]]
    tool_choice: ToolChoice | dict[str, Any] = "auto"
    max_output_tokens: int | Literal["inf"] = "inf"
    tracing: None = None
    prompt: None = None
    expires_at: int = 0
    include: None = None


class ContentOut(OutModel):
    type: Literal["input_text", "input_audio", "input_image", "output_text", "output_audio"]
    text: str | None = None
    transcript: str | None = None


class ItemOut(OutModel):
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


class TranscriptionUsage(OutModel):
    type: Literal["duration"] = "duration"
    seconds: float


class TokenDetailsIn(OutModel):
    text_tokens: int = 0
    audio_tokens: int = 0
    image_tokens: int = 0
    cached_tokens: int = 0
    cached_tokens_details: dict[str, int] = Field(
        default_factory=lambda: {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0})


class TokenDetailsOut(OutModel):
    text_tokens: int = 0
    audio_tokens: int = 0


class Usage(OutModel):
    total_tokens: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    input_token_details: TokenDetailsIn = Field(default_factory=TokenDetailsIn)
    output_token_details: TokenDetailsOut = Field(default_factory=TokenDetailsOut)


class StatusDetails(OutModel):
    type: Literal["completed", "cancelled", "incomplete", "failed"]
    reason: str | None = None
    error: ErrorDetail | None = None


class ResponseAudioOutOut(OutModel):
    format: AudioFormatOut
    voice: str


class ResponseAudioOut(OutModel):
    output: ResponseAudioOutOut


ResponseStatusType = Literal["in_progress", "completed", "cancelled", "failed", "incomplete"]


class ResponseOut(OutModel):
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


class PartOut(OutModel):
    type: Literal["audio", "text"]
    text: str | None = None
    transcript: str | None = None


class RateLimit(OutModel):
    name: Literal["requests", "tokens"]
    limit: int
    remaining: int
    reset_seconds: float
