"""Decoding one JSON text frame into a dict, with the typed errors every wire protocol here uses; the NUL check
every JSON body and frame passes once it is valid (``refuse_nul``: each wire gives it its own error code)."""

from __future__ import annotations

import json
from typing import Any

from voice_letta.errors import ProtocolViolation


def json_object(text: str, *, max_bytes: int, what: str) -> dict[str, Any]:
    """``what`` names the frames in messages ("text frames", "Twilio frames"); the limit is in UTF-8 bytes."""
    # A character is 1 to 4 bytes: only text that could be over the limit is encoded to measure it.
    if len(text) > max_bytes or (len(text) * 4 > max_bytes and len(text.encode("utf-8", "surrogatepass")) > max_bytes):
        raise ProtocolViolation(f"{what} over {max_bytes} bytes", code="frame_too_large")
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolViolation(f"{what} must be JSON objects", code="invalid_json") from exc
    if not isinstance(raw, dict):
        raise ProtocolViolation(f"{what} must be JSON objects", code="invalid_json")
    return raw


# JSON can carry U+0000 only escaped, so a body or frame without this escape holds no NUL: the common case costs one
# search of the raw text, and only a text that has it is walked to name the field.
_NUL_ESCAPE = "\\u0000"


def without_bom(raw: bytes) -> bytes:
    """An HTTP JSON body without a leading UTF-8 byte order mark, which RFC 8259 lets a parser ignore: Windows
    editors and PowerShell 5.1's ``Out-File -Encoding utf8`` write one, and ``curl -d @body.json`` sends it
    (refused, the error said "expected value at line 1 column 1" of a file that looks valid)."""
    return raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw


def refuse_nul(raw: str | bytes, decoded: Any = None) -> None:
    """Refuse a JSON text whose decoded strings (keys or values) hold the NUL character, as a typed 400 naming the
    field (``messages.0.content``). PostgreSQL cannot store NUL in text (it failed there as a 500 ``storage_error``
    after the request was taken, while SQLite stored it), and no text a person says or types holds one: every
    backend refuses it at the door, before anything is stored. ``decoded`` is ``raw`` already decoded, if it was
    (a body validated straight from its bytes is decoded here, only when it has the escape); ``raw`` must be JSON."""
    present = _NUL_ESCAPE.encode() in raw if isinstance(raw, bytes) else _NUL_ESCAPE in raw
    if not present:
        return
    where = _nul_path(json.loads(raw) if decoded is None else decoded, ())
    if where is not None:
        param = ".".join(where) or None
        raise ProtocolViolation(f"text may not contain the NUL character (U+0000){f': {param}' if param else ''}",
                                code="invalid_request", param=param)


def _nul_path(value: Any, at: tuple[str, ...]) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return at if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return at
            found = _nul_path(item, (*at, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _nul_path(item, (*at, str(i)))
            if found is not None:
                return found
    return None
