"""Decoding one JSON text frame into a dict, with the typed errors every wire protocol here uses; the NUL check
every JSON body and frame passes once it is valid (``refuse_nul``: each wire gives it its own error code)."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from voice_letta.errors import ProtocolViolation, invalid_body

M = TypeVar("M", bound=BaseModel)


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
    if _SURROGATE_ESCAPE.search(text):  # an emoji written as an escaped pair is common (Python's json.dumps)
        fixed: dict[str, Any] = _whole_characters(raw)[0]
        return fixed
    return raw


# Text cut inside an emoji: JavaScript strings are UTF-16, so ``text.slice(0, n)`` can keep half a surrogate pair,
# which JSON.stringify (and Python's json.dumps) write as an escape such as \ud83c. Refusing the request lost the
# user's words for half a character; the half becomes U+FFFD (what a browser's TextEncoder writes for it).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _whole_characters(value: Any) -> tuple[Any, bool]:
    """``value`` (decoded JSON, changed in place) with each lone surrogate in its strings and keys replaced by
    U+FFFD, and whether there was one; a pair was joined into one character by the decoder, so what is left is half
    of one. Walked with a stack, not recursion: a frame nested ~950 deep passes json.loads, and a recursive walk
    then raised RecursionError out of the frame handler."""
    changed = False

    def whole(text: str) -> str:
        nonlocal changed
        fixed = _LONE_SURROGATE.sub("\ufffd", text)
        changed = changed or fixed != text
        return fixed

    if isinstance(value, str):
        return whole(value), changed
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if any(_LONE_SURROGATE.search(key) for key in node):
                items = [(whole(key), item) for key, item in node.items()]
                node.clear()
                node.update(items)
            for key, item in node.items():
                if isinstance(item, str):
                    node[key] = whole(item)
                elif isinstance(item, (dict, list)):
                    stack.append(item)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                if isinstance(item, str):
                    node[i] = whole(item)
                elif isinstance(item, (dict, list)):
                    stack.append(item)
    return value, changed


def validate_body(model: type[M], raw: bytes, *, strict: bool | None = None) -> tuple[M, bytes]:
    """An HTTP JSON body validated as ``model`` (a typed 400 naming the field otherwise), and the bytes it was read
    from: ``raw``, or ``raw`` with half characters replaced (see above) when only those made it invalid JSON."""
    try:
        return model.model_validate_json(raw, strict=strict), raw
    except ValidationError as exc:
        if (not_utf8 := _not_utf8(raw)) is not None:
            raise not_utf8 from exc
        fixed = _without_half_characters(raw) if _SURROGATE_ESCAPE.search(raw.decode("utf-8", "replace")) else None
        if fixed is None:
            raise invalid_body(exc) from exc
    try:
        return model.model_validate_json(fixed, strict=strict), fixed
    except ValidationError as exc:
        raise invalid_body(exc) from exc


def _without_half_characters(raw: bytes) -> bytes | None:
    try:
        value, changed = _whole_characters(json.loads(raw))
        return json.dumps(value, ensure_ascii=False).encode() if changed else None
    except (ValueError, RecursionError):  # not JSON for this decoder either: the first error stands
        return None


# JSON can carry U+0000 only escaped, so a body or frame without this escape holds no NUL: the common case costs one
# search of the raw text, and only a text that has it is walked to name the field.
_NUL_ESCAPE = "\\u0000"


_UTF8_BOM = b"\xef\xbb\xbf"
# A byte order mark names its encoding; UTF-32's marks first, since UTF-32LE's starts with UTF-16LE's.
_OTHER_BOMS = ((b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\xfe\xff", "utf-16-be"),
               (b"\xff\xfe", "utf-16-le"))


def as_utf8(raw: bytes, charset: str | None = None) -> bytes:
    """An HTTP JSON body as UTF-8 without a leading byte order mark. RFC 8259 lets a parser ignore a UTF-8 mark:
    Windows editors and PowerShell 5.1's ``Out-File -Encoding utf8`` write one, and ``curl -d @body.json`` sends
    it (refused, the error said "expected value at line 1 column 1" of a file that looks valid). A body in the
    charset its ``Content-Type`` names (``charset=iso-8859-1``, ``windows-1252``, ``utf-16``), or in UTF-16 or
    UTF-32 with a byte order mark (what Windows PowerShell 5.1's ``>`` and ``Out-File`` write by default), is read
    in that encoding: each was a 400 about a code point or "expected value" of a body the client wrote correctly."""
    if charset and charset.strip().lower().replace("_", "-") not in ("utf-8", "utf8"):
        return _recoded(raw, charset)
    if raw.startswith(_UTF8_BOM):
        return raw[3:]
    for bom, codec in _OTHER_BOMS:
        if raw.startswith(bom):
            return _recoded(raw[len(bom):], codec)
    return raw


def _recoded(raw: bytes, charset: str) -> bytes:
    try:
        text = raw.decode(charset)  # bytes.decode takes text encodings only: "zlib" or "base64" is a LookupError
    except LookupError:
        raise ProtocolViolation(f"the Content-Type's charset {charset[:40]!r} is not a text encoding this server "
                                "reads: send JSON as UTF-8", code="invalid_request", param="Content-Type") from None
    except UnicodeDecodeError as exc:
        raise ProtocolViolation(f"the request body is not {charset[:40]} as its Content-Type says (byte "
                                f"{exc.start})", code="invalid_request") from None
    return text.removeprefix("\ufeff").encode("utf-8", "surrogatepass")


def _not_utf8(raw: bytes) -> ProtocolViolation | None:
    """The error for a body that is not UTF-8 and names no charset, else None. Windows PowerShell 5.1's
    ``Invoke-RestMethod -Body`` sends a string as ISO-8859-1 unless the Content-Type names a charset: "Café" was
    a 400 "invalid unicode code point at line 1 column 13", which reads like a bug of the server's."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ProtocolViolation(
            f"the request body is not UTF-8 (byte {exc.start} is 0x{raw[exc.start]:02x}): send JSON as UTF-8, or "
            "name its encoding in the Content-Type (application/json; charset=iso-8859-1); Windows PowerShell 5.1 "
            "sends ISO-8859-1 unless the Content-Type says charset=utf-8", code="invalid_request")
    return None


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
