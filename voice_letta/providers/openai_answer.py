"""What an OpenAI-compatible server answered a streamed chat request with, when it was not an event stream.

A ``POST /chat/completions`` with ``stream: true`` is answered with an event stream (``data: {...}`` lines). What
sits between us and the model sometimes answers otherwise, with status 200, and the stream decoder found no event in
it: the turn failed as "stream ended without a finish_reason", which names nothing. What answers otherwise:

- an HTML page: a captive portal (hotel or train Wi-Fi), a corporate proxy's block page, a base URL that points at
  a web UI or a dashboard instead of its API (Open WebUI's root, LM Studio's docs), an error page sent with 200;
- a JSON error body with status 200: ``{"error": {...}}`` from relays and gateways (one-api/new-api style), vLLM's
  ``{"object": "error", ...}``, FastAPI's ``{"detail": ...}``;
- a whole ``chat.completion`` object: a server or proxy that ignores ``stream: true``;
- a redirect (3xx): a captive portal sending the request to its login page (the direct way follows no redirects).

``sniff`` reads the first bytes of the body and decides by them, not by the Content-Type (which these answers often
get wrong, and which some real event streams leave out): an event stream starts with a field name (``data``,
``event``, ``id``, ``retry``) or a comment (``:``), markup with ``<``, JSON with ``{`` or ``[``. An HTML page or
other text is ``ProviderBadResponse`` (not retryable: the same URL gives the same page; the fallback chain moves on);
a JSON error is classified as an in-stream error is (by its numeric ``code`` as an HTTP status, else by its
``type``; ``ProviderUnavailable`` when it says neither); a chat.completion is handed back to be turned into the
deltas it would have streamed; a redirect is ``ProviderBadResponse`` naming where it goes. Every message names the
status, the content type and what the body said.

An HTTP error status with an HTML body is named the same way (``_errors.describe_markup``): a proxy's "502 Bad
Gateway" page by its title, not quoted as 500 characters of markup. ``anthropic_chat`` uses ``not_a_stream`` for a
2xx answer whose Content-Type says HTML or JSON (the Anthropic SDK reads the body itself, so it cannot sniff), and
``_openai_client`` for the speech and embedding answers.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from voice_letta.errors import ProviderBadResponse, ProviderError, ProviderUnavailable
from voice_letta.providers._errors import _body_error, _by_status, _redact, describe_markup

__all__ = ["Answer", "json_error", "looks_like_stream", "not_a_stream", "read_capped", "sniff"]

HEAD_BYTES = 64  # enough of the first line to tell an event stream from anything else
MAX_BODY_BYTES = 64 * 1024  # what is read of an answer that is not a stream (a portal's page is ~10-50 KiB)
_DETAIL_CHARS = 200
_STREAM_STARTS = (b"data", b"event", b"id", b"retry", b":")
_BOM = b"\xef\xbb\xbf"
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Answer:
    """An event stream (``head``: its first bytes, already read, then the rest of ``parts``), or a whole
    ``chat.completion`` the server sent instead of one."""

    head: bytes = b""
    completion: dict[str, Any] | None = None


async def sniff(parts: AsyncIterator[bytes], *, label: str, status: int, content_type: str, location: str = "",
                secrets: Iterable[str] = ()) -> Answer:
    """Read the start of a 2xx body: an event stream goes on (``Answer.head``), a chat.completion comes back whole,
    anything else raises the typed error that says what came back."""
    if 300 <= status < 400:  # a redirect: a captive portal's 302 to its login page, or a base URL that moved
        raise not_a_stream(await read_capped(parts), label=label, status=status, content_type=content_type,
                           location=location, secrets=secrets)
    head = b""
    async for part in parts:
        head += part
        start = head.lstrip(_BOM + b" \t\r\n")
        if start and (b"\n" in start or len(start) >= HEAD_BYTES):
            break
    start = head.lstrip(_BOM + b" \t\r\n")
    if start.startswith(_STREAM_STARTS):
        return Answer(head=head)
    body = await read_capped(parts, head)
    if start:
        obj = _json(body)
        if isinstance(obj, dict) and isinstance(obj.get("choices"), list) and obj["choices"]:
            return Answer(completion=obj)  # a server that ignored "stream": true
    raise not_a_stream(body, label=label, status=status, content_type=content_type, location=location, secrets=secrets)


def looks_like_stream(body: bytes) -> bool:
    """Does ``body`` start as an event stream does (a field name or a comment)?"""
    return body.lstrip(_BOM + b" \t\r\n").startswith(_STREAM_STARTS)


def not_a_stream(body: bytes, *, label: str, status: int, content_type: str, secrets: Iterable[str] = (),
                 expected: str = "an event stream", location: str = "") -> ProviderError:
    """The typed error for a 2xx or 3xx body that is not what was ``expected``: a redirect, empty, markup, a JSON
    error, other JSON or text."""
    what = f"HTTP {status} ({content_type or 'no content type'})"
    if 300 <= status < 400:
        return ProviderBadResponse(_redact(
            f"{label}: HTTP {status}, a redirect to {location or 'nowhere'}, not {expected}: a captive portal, or a "
            "base URL that moved?", secrets))
    text = body.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if not text:
        return ProviderUnavailable(_redact(f"{label}: {what} with an empty body, not {expected}", secrets))
    if text.startswith("<"):
        return ProviderBadResponse(_redact(
            f"{label}: {what} answered {describe_markup(text)}, not {expected}: is the base URL the API's, "
            "and is a proxy or a captive portal in the way?", secrets))
    if text.startswith(("{", "[")):
        error = json_error(_json(body), label=label, what=what, secrets=secrets, expected=expected)
        return error or ProviderBadResponse(_redact(
            f"{label}: {what} answered JSON that is not {expected}: {_clip(text)}", secrets))
    if looks_like_stream(body):  # only reached from a caller that could not hand the stream on (anthropic_chat)
        return ProviderBadResponse(_redact(f"{label}: {what} labels an event stream as {content_type}", secrets))
    return ProviderBadResponse(_redact(f"{label}: {what} answered text that is not {expected}: {_clip(text)}",
                                       secrets))


def json_error(obj: object, *, label: str, what: str, secrets: Iterable[str] = (),
               expected: str = "an event stream") -> ProviderError | None:
    """The typed error for a JSON error body that came with a 2xx status; None if ``obj`` is no error body.

    Its numeric ``code`` (``429``, ``"503"``) is read as the HTTP status it stands for; else its ``type``/``code``
    string as an in-stream error's (``rate_limit_exceeded`` is retried, ``invalid_api_key`` moves the chain on);
    else ``ProviderUnavailable``."""
    if not isinstance(obj, dict):
        return None
    if "error" in obj:
        inner = obj["error"]
    elif obj.get("object") == "error" or "detail" in obj:  # vLLM's and FastAPI's error bodies
        inner = obj
    else:
        return None
    message, kind = _body_error({"error": inner})
    if message is None and isinstance(inner, dict):
        detail = inner.get("detail")
        message = detail if isinstance(detail, str) else (orjson.dumps(detail).decode() if detail else None)
    code = inner.get("code") if isinstance(inner, dict) else None
    status = int(code) if isinstance(code, int | str) and str(code).isdigit() and 400 <= int(code) < 600 else 0
    text = _redact(f"{label}: {what} answered a JSON error, not {expected}: {message or _clip(str(inner))}", secrets)
    return _by_status(status, text, kind)


def _clip(text: str, limit: int = _DETAIL_CHARS) -> str:
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json(body: bytes) -> object:
    try:
        return orjson.loads(body.lstrip(_BOM))
    except orjson.JSONDecodeError:
        return None


async def read_capped(parts: AsyncIterator[bytes], head: bytes = b"") -> bytes:
    """``head`` and the rest of a body, up to ``MAX_BODY_BYTES`` (the rest is never read: the connection is closed,
    not reused)."""
    chunks, size = [head], len(head)
    if size < MAX_BODY_BYTES:
        async for part in parts:
            chunks.append(part)
            size += len(part)
            if size >= MAX_BODY_BYTES:
                break
    return b"".join(chunks)[:MAX_BODY_BYTES]
