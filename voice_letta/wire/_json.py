"""Decoding one JSON text frame into a dict, with the typed errors every wire protocol here uses."""

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
