"""API-key access: Bearer keys on every endpoint, plus short-lived tokens for browser WebSockets.

Browsers cannot set headers on a WebSocket, so a client holding the key asks ``POST /v1/tokens`` for a
token valid for a minute and passes it as ``?token=`` or as a ``token.<value>`` subprotocol.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from voice_letta.wire.openai_chat import error_body

TOKEN_TTL_S = 60
OPEN_PATHS = frozenset({"/health", "/", "/index.html", "/favicon.ico"})


def issue_token(api_key: str, *, ttl_s: int = TOKEN_TTL_S, now: float | None = None) -> tuple[str, int]:
    expires = int((now or time.time()) + ttl_s)
    nonce = secrets.token_hex(8)
    payload = f"{expires}.{nonce}"
    sig = hmac.new(api_key.encode(), payload.encode(), hashlib.sha256).digest()
    return f"vlt.{payload}.{base64.urlsafe_b64encode(sig).decode().rstrip('=')}", expires


def check_token(api_key: str, token: str, *, now: float | None = None) -> bool:
    try:
        prefix, expires, nonce, sig = token.split(".")
    except ValueError:
        return False
    if prefix != "vlt" or not expires.isdigit() or int(expires) < (now or time.time()):
        return False
    expected = hmac.new(api_key.encode(), f"{expires}.{nonce}".encode(), hashlib.sha256).digest()
    return hmac.compare_digest(base64.urlsafe_b64encode(expected).decode().rstrip("="), sig)


def request_is_authorized(request: web.Request, api_key: str) -> bool:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), api_key.encode()):
        return True
    token = request.query.get("token")
    if token is None:
        for proto in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
            proto = proto.strip()
            if proto.startswith("token."):
                token = proto[6:]
    return token is not None and check_token(api_key, token)


def auth_middleware(api_key: str | None) -> web.middleware:  # type: ignore[valid-type]
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if api_key is None or request.path in OPEN_PATHS or request.path.startswith("/static/"):
            return await handler(request)
        if request.path.startswith("/twilio/"):
            return await handler(request)  # Twilio requests are checked by X-Twilio-Signature instead
        if not request_is_authorized(request, api_key):
            return web.json_response(
                error_body("Missing or invalid API key. Send 'Authorization: Bearer <key>'.",
                           type_="authentication_error", code="invalid_api_key"), status=401)
        return await handler(request)

    return middleware
