"""OpenAI chat-completions wire models: the request clients send, and the chunks/completions we send back.

Our own models mirror OpenAI's schema (``chat.completion.chunk``) so this module does not import the SDK;
integration tests check them by streaming through the real ``openai`` client.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from voice_letta import config as C
from voice_letta.errors import ProtocolViolation


class _In(BaseModel):
    # Third-party input: clients add fields freely (Vapi, LiveKit, Pipecat), so unknown ones are ignored. The
    # fields we read are strict on their JSON type, as OpenAI's are ("Invalid type for 'stream': expected a
    # boolean"): "stream": "yes" was a stream, "voice_letta": {"first_token_timeout_s": true} a one-second deadline.
    model_config = ConfigDict(extra="ignore", strict=True)


ImageDetail = Literal["auto", "low", "high"]


class ImageUrlIn(_In):
    url: str = Field(min_length=1)
    detail: ImageDetail | None = None


class ContentPart(_In):
    type: str
    text: str | None = None
    image_url: ImageUrlIn | None = None


TEXT_PARTS = frozenset({"text", "input_text", "output_text", "refusal"})
_IMAGE_DATA = re.compile(r"data:image/(png|jpeg|jpg|gif|webp);base64,[A-Za-z0-9+/=\s]+", re.I)


class FunctionCallIn(_In):
    name: str
    arguments: str = ""


class ToolCallIn(_In):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCallIn


class MessageIn(_In):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None
    name: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content if p.type in TEXT_PARTS)

    def images(self, where: str) -> list[tuple[str, ImageDetail | None]]:
        """The (url, detail) of each image part; ``where`` names this message in errors (``messages.3``).

        Text parts and images are what an agent turn takes: any other part (audio, files) is a 400, never
        silently dropped; an image must be a ``data:image/…;base64,`` URI or an http(s) URL."""
        out: list[tuple[str, ImageDetail | None]] = []
        if not isinstance(self.content, list):
            return out
        for j, part in enumerate(self.content):
            param = f"{where}.content.{j}"
            if part.type in TEXT_PARTS:
                continue
            if part.type != "image_url" or part.image_url is None:
                raise ProtocolViolation(f"content parts of type {part.type!r} are not supported: send text or "
                                        "image_url parts", code="unsupported_content", param=param)
            url = part.image_url.url.strip()
            scheme = url.split(":", 1)[0].lower()
            if not (_IMAGE_DATA.fullmatch(url) or (scheme in ("http", "https") and "://" in url)):
                raise ProtocolViolation("an image_url must be a data:image/(png|jpeg|gif|webp);base64 URI or an "
                                        "http(s) URL", code="invalid_image", param=f"{param}.image_url.url")
            out.append((url, part.image_url.detail))
        return out


class FunctionDef(_In):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_.-]+$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolIn(_In):
    type: Literal["function"] = "function"
    function: FunctionDef


class StreamOptions(_In):
    include_usage: bool = False


class VoiceLettaOptions(_In):
    """Our extension, sent by the openai SDK as ``extra_body={"voice_letta": {...}}``. Unlike OpenAI's own fields
    (unknown ones are ignored, as other OpenAI-compatible servers do), an unknown member of our namespace is a 400:
    a misspelt ``said_ta`` would otherwise store a replayed transcript's line at the wrong time, silently."""

    model_config = ConfigDict(extra="forbid")

    server_tool_calls: bool | None = None  # stream the agent's own tool-call deltas (default: see protocol.md)
    # Seconds to each model call's first token before the next model of the agent's chain takes over (0: no
    # deadline for this request); None: the agent's own setting.
    first_token_timeout_s: float | None = Field(default=None, ge=0, le=600)
    # When the new user message was said (epoch seconds), e.g. a transcript replayed later; stored as the
    # message's time, so memory windows and dates are right. At most SAID_AT_FUTURE_S in the future.
    said_at: float | None = Field(default=None, ge=0, allow_inf_nan=False, strict=True)  # a JSON true is not 1


SAID_AT_FUTURE_S = C.SAID_AT_FUTURE_S


class ChatCompletionRequest(_In):
    model: str = Field(min_length=1)
    messages: list[MessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    tools: list[ToolIn] | None = None
    tool_choice: Any = None
    user: str | None = None
    voice_letta: VoiceLettaOptions | None = None
    # Checked by ``check_sampling`` (OpenAI-style 400s); temperature and the token limit apply to this turn.
    n: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None

    def token_limit(self) -> int | None:
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens


def check_sampling(body: ChatCompletionRequest, *, context_window: int) -> None:
    """Refuse what an agent turn cannot honour, as OpenAI words it, instead of silently ignoring it."""
    if body.n is not None and body.n != 1:
        code = "integer_below_min_value" if body.n < 1 else "unsupported_value"
        raise ProtocolViolation(f"Invalid 'n': {body.n}. An agent turn produces exactly one choice; send n=1 "
                                "or leave it out.", code=code, param="n")
    if body.logprobs:
        raise ProtocolViolation("'logprobs' is not supported: agent replies carry no token log probabilities.",
                                code="unsupported_parameter", param="logprobs")
    if body.top_logprobs:
        raise ProtocolViolation("'top_logprobs' is not supported: agent replies carry no token log probabilities.",
                                code="unsupported_parameter", param="top_logprobs")
    if body.temperature is not None and not 0.0 <= body.temperature <= 2.0:
        code = "decimal_below_min_value" if body.temperature < 0 else "decimal_above_max_value"
        raise ProtocolViolation(f"Invalid 'temperature': expected a value between 0 and 2, got {body.temperature:g}.",
                                code=code, param="temperature")
    for name in ("max_tokens", "max_completion_tokens"):
        value = getattr(body, name)
        if value is None:
            continue
        if value < 1:
            raise ProtocolViolation(f"Invalid '{name}': expected a value >= 1, got {value}.",
                                    code="integer_below_min_value", param=name)
        if value > context_window:
            raise ProtocolViolation(f"'{name}' is too large: {value}. This agent's model has a context window of "
                                    f"{context_window} tokens.", code="integer_above_max_value", param=name)


# --- output ----------------------------------------------------------------------------------------------


def chunk(
    completion_id: str,
    created: int,
    model: str,
    *,
    role: bool = False,
    content: str | None = None,
    tool_call: dict[str, Any] | None = None,
    finish_reason: str | None = None,
) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if role:
        delta["role"] = "assistant"
    if content is not None:
        delta["content"] = content
    if tool_call is not None:
        delta["tool_calls"] = [tool_call]
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def tool_call_delta(index: int, call_id: str | None, name: str | None, arguments: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"index": index}
    function: dict[str, Any] = {}
    if call_id:
        out["id"] = call_id
        out["type"] = "function"
    if name:
        function["name"] = name
    if arguments is not None:
        function["arguments"] = arguments
    if function:
        out["function"] = function
    return out


def usage_dict(prompt: int, completion: int, cached: int = 0) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


def usage_chunk(completion_id: str, created: int, model: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [], "usage": usage}


def error_body(message: str, *, type_: str = "invalid_request_error", code: str | None = None,
               param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def sse(data: dict[str, Any] | str) -> bytes:
    """One event-stream event: compact UTF-8 JSON (orjson: the same text as ``json.dumps`` with compact separators
    and ``ensure_ascii=False``, several times cheaper; one event per streamed chunk)."""
    return b"data: " + (data.encode() if isinstance(data, str) else orjson.dumps(data)) + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"
SSE_KEEPALIVE = b": keepalive\n\n"
