"""The one error tree of voice-letta; SDK and driver errors are translated into it at the boundary.

    VoiceLettaError
    ├── ConfigError                    bad settings or agent configuration (HTTP 400)
    ├── NotFoundError                  unknown agent, block, tool, passage (HTTP 404)
    ├── ProtocolViolation(close_code)  malformed client input on a wire (typed error, session goes on)
    ├── ProviderError(retryable)       an LLM/STT/TTS/embedding provider failed
    │   ├── ProviderTimeout            retryable
    │   ├── ProviderRateLimited        retryable
    │   ├── ProviderUnavailable        retryable (5xx, connection refused, stream cut)
    │   ├── ProviderBadResponse        not retryable: an answer that is not the API's (an HTML page, a JSON body
    │   │                              that is neither a stream nor an error); the fallback chain moves on
    │   └── ProviderBadRequest         not retryable (4xx other than 429)
    │       ├── ProviderAuthFailed     401/403: a revoked or wrong key (the fallback chain moves on)
    │       └── ProviderModelNotFound  404: no such model or deployment (the fallback chain moves on)
    ├── StorageError                   the database failed
    │   └── ConflictError              compare-and-set lost (block version moved on)
    ├── ToolError                      a tool failed to register or run
    ├── AuthenticationRequired         no valid API key or token (HTTP 401)
    ├── AccessDenied                   authenticated, but not for this (HTTP 403): token scope, origin, admin off
    └── BudgetExceeded                 tool rounds or wall clock of a turn used up

Every error carries a stable machine-readable ``code`` used on the wire.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class VoiceLettaError(Exception):
    code: str = "internal_error"
    http_status: int = 500
    param: str | None = None  # the request field at fault, when there is one (OpenAI's error "param")

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if param is not None:
            self.param = param


class ConfigError(VoiceLettaError):
    code = "invalid_config"
    http_status = 400


class NotFoundError(VoiceLettaError):
    code = "not_found"
    http_status = 404


class ProtocolViolation(VoiceLettaError):
    """Malformed input on a wire. ``close_code`` is the WebSocket code to use if the driver must close."""

    code = "protocol_violation"
    http_status = 400
    event_id: str | None = None  # the refused message's own ``event_id``, when it could be read

    def __init__(self, message: str, *, code: str | None = None, close_code: int = 1003,
                 param: str | None = None) -> None:
        super().__init__(message, code=code, param=param)
        self.close_code = close_code


def in_the_future(what: str, value: float, *, param: str | None = None) -> ProtocolViolation:
    """A time a client gave (epoch seconds) that is ahead of the server's clock. A JavaScript client's
    ``Date.now()`` is milliseconds: "in the future" alone sent its developer hunting for clock drift. Up to a
    day ahead is most often an export's local times read as UTC (a chat export's "09:00" of a user at UTC+3, made
    epoch seconds as if UTC, is 3 hours ahead for the last messages), so the error says by how much."""
    if value > 1e11:
        hint = "; times are epoch seconds and this looks like milliseconds (divide by 1000)"
    elif 0 < (ahead := value - time.time()) <= 86_400:
        hours, minutes = divmod(round(ahead / 60), 60)
        hint = (f" ({hours} h {minutes:02d} min ahead of the server's clock): times are UTC epoch seconds; a local "
                "time read as UTC is ahead by the zone's offset")
    else:
        hint = ""
    return ProtocolViolation(f"{what} is in the future{hint}", code="invalid_request", param=param)


def invalid_body(exc: ValidationError, *, prefix: str | None = None) -> ProtocolViolation:
    """A request body that failed validation, as a typed 400 naming its first problem (``messages.0.role``;
    under ``prefix`` for a part validated on its own, ``fallback.0.model``) in the message and in ``param``."""
    errors = exc.errors()
    err = errors[0]
    loc = tuple(err.get("loc", ()))
    cut = next((i for i, part in enumerate(loc) if _is_union_tag(part)), None)
    if cut is not None:  # a field of several types: the branch that got furthest names the problem best
        err = max((e for e in errors if tuple(e.get("loc", ()))[:cut] == loc[:cut]), key=lambda e: len(e["loc"]))
    parts = [str(p) for p in err.get("loc", ()) if not _is_union_tag(p)]  # "messages.0.content", not "….str"
    where = ".".join([*([prefix] if prefix else []), *parts])
    # a validator's own sentence, without pydantic's "Value error, " before it
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return ProtocolViolation(f"invalid request body: {where or 'body'}: {msg}",
                             code="invalid_request", param=where or None)


_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "dict", "list", "tuple", "none", "bytes"})


def _is_union_tag(part: object) -> bool:
    """pydantic names the member of a union it tried in ``loc`` ("str", "list[ContentPart]", "dict[str,any]"):
    a type, not a field of the request."""
    return isinstance(part, str) and (part in _TYPE_TAGS or "[" in part or part.startswith("function-"))


class ProviderError(VoiceLettaError):
    code = "provider_error"
    http_status = 502
    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None, retryable: bool | None = None) -> None:
        super().__init__(message, code=code)
        if retryable is not None:
            self.retryable = retryable


class ProviderTimeout(ProviderError):
    code = "provider_timeout"
    http_status = 504
    retryable = True


class ProviderRateLimited(ProviderError):
    code = "provider_rate_limited"
    http_status = 429
    retryable = True


class ProviderUnavailable(ProviderError):
    code = "provider_unavailable"
    http_status = 503
    retryable = True


class ProviderBadResponse(ProviderError):
    """The server answered with something that is not the provider's API: a captive portal's or a proxy's HTML page
    with status 200, a base URL that points at a web site. Retrying the same URL gets the same page."""

    code = "provider_bad_response"
    http_status = 502
    retryable = False


class ProviderBadRequest(ProviderError):
    code = "provider_bad_request"
    http_status = 502
    retryable = False


class ProviderAuthFailed(ProviderBadRequest):
    code = "provider_auth_failed"


class ProviderModelNotFound(ProviderBadRequest):
    code = "provider_model_not_found"


class StorageError(VoiceLettaError):
    code = "storage_error"
    http_status = 500


class ConflictError(StorageError):
    code = "conflict"
    http_status = 409


class ToolError(VoiceLettaError):
    code = "tool_error"
    http_status = 400


class AuthenticationRequired(VoiceLettaError):
    code = "invalid_api_key"
    http_status = 401


class AccessDenied(VoiceLettaError):
    code = "forbidden"
    http_status = 403


class BudgetExceeded(VoiceLettaError):
    code = "budget_exceeded"
    http_status = 500
