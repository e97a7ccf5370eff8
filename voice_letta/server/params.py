"""Query-string parameters, parsed strictly: a malformed value is a typed 400, never a 500.

``str.isdigit`` accepts "²" and "١٢", which ``int()`` then rejects or reads as another number, so integers
must match ASCII digits; floats must be finite.
"""

from __future__ import annotations

import math
import re

from aiohttp import web

from voice_letta.errors import ConfigError, ProtocolViolation
from voice_letta.providers.registry import check_base_url

_INT = re.compile(r"-?[0-9]{1,19}")


def optional_int_query(request: web.Request, name: str, *, minimum: int = 1, maximum: int = 10_000) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if not _INT.fullmatch(raw) or not minimum <= int(raw) <= maximum:
        raise ProtocolViolation(f"query parameter {name} must be an integer in {minimum}..{maximum}",
                                code="invalid_request", param=name)
    return int(raw)


def int_query(request: web.Request, name: str, default: int, *, minimum: int = 1, maximum: int = 10_000) -> int:
    value = optional_int_query(request, name, minimum=minimum, maximum=maximum)
    return default if value is None else value


def bool_query(request: web.Request, name: str) -> bool | None:
    """``true`` or ``false``, or None when absent (anything else was read as "no filter")."""
    raw = request.query.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise ProtocolViolation(f"query parameter {name} must be true or false", code="invalid_request", param=name)
    return raw == "true"


def float_query(request: web.Request, name: str, what: str = "a number") -> float | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ProtocolViolation(f"query parameter {name} must be {what}", code="invalid_request", param=name)
    return value


def url_query(request: web.Request, name: str) -> str | None:
    """An http(s) URL with a host and a valid port, or None when absent."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        check_base_url(raw)  # http(s), a host a client can connect to (not 256.1.1.1), a valid port
        valid = True
    except ConfigError:
        valid = False
    if not valid:
        raise ProtocolViolation(f"query parameter {name} must be an http(s) URL", code="invalid_request",
                                param=name)
    return raw
