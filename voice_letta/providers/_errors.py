"""Translate openai / anthropic / httpx2 exceptions into the voice-letta error tree.

``map_provider_errors(provider, secrets=(api_key,))`` is a context manager usable both as ``with`` and
``async with``, around SDK calls and around stream iteration:

    ==============================================  ============================
    SDK / transport error                           voice-letta error
    ==============================================  ============================
    APITimeoutError, httpx2.TimeoutException, 408   ProviderTimeout      (retry)
    HTTP 429, in-stream ``rate_limit_error``        ProviderRateLimited  (retry)
    HTTP 5xx/529, connection errors, stream cut,    ProviderUnavailable  (retry)
    in-stream ``error`` events (overloaded, api)
    HTTP 401/403, authentication/permission errors  ProviderAuthFailed   (no retry; the chain moves on)
    HTTP 404, not_found_error                       ProviderModelNotFound (no retry; the chain moves on)
    other HTTP 4xx, in-stream invalid request       ProviderBadRequest   (no retry)
    anything else the SDKs raise                    ProviderError        (no retry)
    ==============================================  ============================

Messages name the provider, the HTTP status and the provider's own error message (an HTML error page, from a proxy
in front of the provider, by its title and content type: ``describe_markup``); secrets passed in
(and anything shaped like an API key) are redacted. A ``Retry-After`` header on a 429/503 is kept as the
``retry_after_s`` attribute of the raised error.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Literal

import aiohttp
import anthropic
import httpcore2  # noqa: F401 - httpx2 imports it lazily in its first client, which reads files on the loop
import httpx2
import openai

from voice_letta.errors import (
    ProviderAuthFailed,
    ProviderBadRequest,
    ProviderError,
    ProviderModelNotFound,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)

__all__ = ["describe_markup", "map_provider_errors", "translate_exception"]

_KEY_RE = re.compile(r"\b(sk-[A-Za-z0-9_\-*]{6,}|sk-ant-[A-Za-z0-9_\-*]{6,}|Bearer\s+[A-Za-z0-9._\-]{8,})")
_MAX_MESSAGE_CHARS = 500
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_HEADING = re.compile(r"<h1[^>]*>(.*?)</h1\s*>", re.IGNORECASE | re.DOTALL)
_DROPPED = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")

# Error ``type`` strings found in error bodies (Anthropic's names and OpenAI's), by class.
_RATE_TYPES = {"rate_limit_error", "rate_limit_exceeded", "requests", "tokens", "insufficient_quota"}
_TIMEOUT_TYPES = {"timeout_error", "request_timeout"}
_AUTH_TYPES = {"authentication_error", "permission_error", "invalid_api_key"}
_NOT_FOUND_TYPES = {"not_found_error", "model_not_found", "DeploymentNotFound"}
_BAD_REQUEST_TYPES = {
    "invalid_request_error",
    "request_too_large",
    "billing_error",
    "context_length_exceeded",
}


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _KEY_RE.sub("***", text)
    if len(text) > _MAX_MESSAGE_CHARS:
        text = text[: _MAX_MESSAGE_CHARS - 1] + "…"
    return text


def _body_error(body: object) -> tuple[str | None, str | None]:
    """(message, type) from an error body: ``{"error": {...}}`` or the inner object itself."""
    if not isinstance(body, dict):
        return (body if isinstance(body, str) and body else None), None
    inner: Any = body.get("error", body)
    if not isinstance(inner, dict):
        return (inner if isinstance(inner, str) else None), None
    message = inner.get("message")
    kind = inner.get("type") or inner.get("code")
    return (message if isinstance(message, str) else None), (str(kind) if kind is not None else None)


def describe_markup(text: str) -> str:
    """``an HTML page titled '502 Bad Gateway'``: markup named by its title (else its first heading, else its first
    words), never quoted whole."""
    kind = "an HTML page" if re.search(r"<(!doctype html|html|head|body|title)\b", text[:2000], re.I) else "markup"
    for pattern in (_TITLE, _HEADING):
        if (m := pattern.search(text)) is not None and (title := _plain(m.group(1))):
            return f"{kind} titled {_short(title)!r}"
    words = _plain(_DROPPED.sub(" ", text))
    return f"{kind} ({_short(words)!r})" if words else kind


def _plain(markup: str) -> str:
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", markup))).strip()


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _retry_after_s(response: httpx2.Response | None) -> float | None:
    if response is None:
        return None
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = response.headers.get(header)
        if value:
            try:
                return max(0.0, float(value) / divisor)
            except ValueError:
                continue
    return None


def _by_status(status: int, text: str, kind: str | None) -> ProviderError:
    if status == 429:
        return ProviderRateLimited(text)
    if status == 408:
        return ProviderTimeout(text)
    if status >= 500:
        return ProviderUnavailable(text)
    if status in (401, 403):
        return ProviderAuthFailed(text)
    if status == 404:
        return ProviderModelNotFound(text)
    if 400 <= status < 500:
        return ProviderBadRequest(text)
    # An error event inside a 200 stream: classify by the error type of the body.
    if kind in _RATE_TYPES:
        return ProviderRateLimited(text)
    if kind in _TIMEOUT_TYPES:
        return ProviderTimeout(text)
    if kind in _AUTH_TYPES:
        return ProviderAuthFailed(text)
    if kind in _NOT_FOUND_TYPES:
        return ProviderModelNotFound(text)
    if kind in _BAD_REQUEST_TYPES:
        return ProviderBadRequest(text)
    return ProviderUnavailable(text)


def translate_exception(
    exc: BaseException, provider: str, secrets: Iterable[str] = ()
) -> ProviderError | None:
    """The voice-letta error for an SDK or transport exception, or None if it is not one of theirs."""
    secrets = tuple(secrets)
    if isinstance(exc, ProviderError):
        return None
    if isinstance(exc, openai.APITimeoutError | anthropic.APITimeoutError | httpx2.TimeoutException):
        if _refused(exc):  # the SDK's aiohttp transport reports a refused connection as a connect timeout
            return ProviderUnavailable(_redact(f"{provider}: connection failed (ClientConnectorError)", secrets))
        return ProviderTimeout(_redact(f"{provider}: request timed out", secrets))
    if isinstance(exc, openai.APIStatusError | anthropic.APIStatusError):
        status = exc.status_code
        message, kind = _body_error(exc.body)
        detail = message or exc.message
        if isinstance(exc.body, str) and exc.body.lstrip("\ufeff \t\r\n").startswith("<"):
            # a proxy's or a gateway's error page, not the provider's JSON: named, not quoted
            kind_of = exc.response.headers.get("content-type", "no content type")
            detail = f"{describe_markup(exc.body)} ({kind_of}), not the API's JSON"
        label = f"HTTP {status}" if status >= 400 else "error in stream"
        err = _by_status(status, _redact(f"{provider}: {label}: {detail}", secrets), kind)
        retry_after = _retry_after_s(exc.response)
        if retry_after is not None:
            err.retry_after_s = retry_after  # type: ignore[attr-defined]
        return err
    if isinstance(exc, openai.APIConnectionError | anthropic.APIConnectionError):
        cause = exc.__cause__
        reason = f" ({type(cause).__name__})" if cause is not None else ""
        return ProviderUnavailable(_redact(f"{provider}: connection failed{reason}", secrets))
    if isinstance(exc, openai.APIResponseValidationError | anthropic.APIResponseValidationError):
        return ProviderError(_redact(f"{provider}: invalid response: {exc.message}", secrets))
    if isinstance(exc, openai.APIError | anthropic.APIError):
        # openai raises a bare APIError for an ``{"error": ...}`` chunk in the middle of a stream.
        message, kind = _body_error(exc.body)
        text = _redact(f"{provider}: error in stream: {message or exc.message}", secrets)
        return _by_status(0, text, kind)
    if isinstance(exc, httpx2.TransportError):
        return ProviderUnavailable(_redact(f"{provider}: connection lost ({type(exc).__name__})", secrets))
    if isinstance(exc, openai.OpenAIError | anthropic.AnthropicError):
        return ProviderError(_redact(f"{provider}: {exc}", secrets))
    return None


def _refused(exc: BaseException) -> bool:
    """A connection that failed at once (refused, unreachable), somewhere in ``exc``'s chain of causes."""
    seen = 0
    cause: BaseException | None = exc
    while cause is not None and seen < 8:
        if isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(cause, aiohttp.ServerTimeoutError):
            return True
        cause, seen = cause.__cause__, seen + 1
    return False


class map_provider_errors:
    """Context manager (sync and async) raising voice-letta errors in place of SDK exceptions."""

    __slots__ = ("_provider", "_secrets")

    def __init__(self, provider: str, secrets: Iterable[str | None] = ()) -> None:
        self._provider = provider
        self._secrets = tuple(s for s in secrets if s)

    def __enter__(self) -> map_provider_errors:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        if exc is None:
            return False
        translated = translate_exception(exc, self._provider, self._secrets)
        if translated is None:
            return False
        raise translated from exc

    async def __aenter__(self) -> map_provider_errors:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        return self.__exit__(exc_type, exc, tb)
