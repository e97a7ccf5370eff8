"""Who may do what: the API key, scoped tokens, and an access class for every route (docs/protocol.md §Access).

    class    routes                                          with an API key set            without one
    PUBLIC   the page, /static/*, /health, /ready            anyone                         anyone
    VOICE    voice WebSockets (/v1/voice, /v1/realtime)      the key, or a token with scope  anyone
                                                             "voice" for that agent
    READ     GET one agent and its blocks, messages,         the key, or a token with scope  anyone
             archival memory, memory jobs                    "read" for that agent
    ADMIN    everything else (agents, chat completions,      the key                         anyone
             tokens, models, metrics); unknown routes
    CODE     routes that make the server run code            the key; off with               non-browser clients
             (tools, MCP servers)                            --no-admin-api                  only; off likewise
    TWILIO   /twilio/*                                       Twilio's signature (ws_twilio.py)

Every request first passes ``web_guard`` (Host and Origin), so "anyone" means local programs and the
server's own page, never another web site.

Tokens exist because browsers cannot set headers on a WebSocket. One is minted with the key
(``POST /v1/tokens``), names its scopes, one agent and an expiry, and is an HMAC over those claims: it works
for that agent and scope only, cannot mint tokens, and needs no server-side state. A voice token's expiry
bounds when a session may *open*; an open session lives on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from voice_letta import config as C
from voice_letta.errors import AccessDenied, AuthenticationRequired

TokenScope = Literal["voice", "read"]
TOKEN_PREFIX = "vlt1"
_SIGNING_CONTEXT = b"voice-letta access token v1"


class Access(Enum):
    PUBLIC = "public"
    VOICE = "voice"
    READ = "read"
    ADMIN = "admin"
    CODE = "code"
    TWILIO = "twilio"


# (method, route pattern) → access class. HEAD is treated as GET. A route missing here needs the API key.
ROUTE_ACCESS: dict[tuple[str, str], Access] = {
    ("GET", "/"): Access.PUBLIC,
    ("GET", "/static"): Access.PUBLIC,
    ("GET", "/health"): Access.PUBLIC,
    ("GET", "/ready"): Access.PUBLIC,  # load balancers and orchestrators probe without a key
    ("GET", "/v1/voice"): Access.VOICE,
    ("GET", "/v1/realtime"): Access.VOICE,
    ("GET", "/v1/agents/{agent_id}"): Access.READ,
    ("GET", "/v1/agents/{agent_id}/blocks"): Access.READ,
    ("GET", "/v1/agents/{agent_id}/blocks/{label}"): Access.READ,
    ("GET", "/v1/agents/{agent_id}/messages"): Access.READ,
    ("GET", "/v1/agents/{agent_id}/archival"): Access.READ,
    ("GET", "/v1/agents/{agent_id}/archival/search"): Access.READ,
    ("GET", "/v1/agents/{agent_id}/archival/{passage_id}"): Access.READ,
    ("GET", "/v1/agents/{agent_id}/memory/jobs"): Access.READ,
    ("GET", "/v1/agents/{agent_id}/turns"): Access.READ,
    ("PATCH", "/v1/agents/{agent_id}"): Access.ADMIN,  # like POST /v1/agents
    ("POST", "/v1/agents/{agent_id}/identities/{identity}"): Access.ADMIN,  # creates agents (human, issue 14)
    ("POST", "/v1/llm/check"): Access.ADMIN,  # makes the server call a provider with a key from its environment
    ("POST", "/v1/agents/{agent_id}/archival"): Access.ADMIN,
    ("POST", "/v1/agents/{agent_id}/archival/batch"): Access.ADMIN,
    ("POST", "/v1/agents/{agent_id}/messages/import"): Access.ADMIN,
    ("PATCH", "/v1/agents/{agent_id}/archival/{passage_id}"): Access.ADMIN,
    ("DELETE", "/v1/agents/{agent_id}/archival/{passage_id}"): Access.ADMIN,
    ("POST", "/v1/tools"): Access.CODE,
    ("DELETE", "/v1/tools/{tool_id}"): Access.CODE,
    ("POST", "/v1/tools/{tool_id}/run"): Access.CODE,
    ("GET", "/v1/sandbox"): Access.ADMIN,  # names host paths; explicit, though unknown routes are ADMIN anyway
    ("POST", "/v1/agents/{agent_id}/tools/{tool_id}"): Access.CODE,
    ("DELETE", "/v1/agents/{agent_id}/tools/{tool_id}"): Access.CODE,
    ("POST", "/v1/mcp/servers"): Access.CODE,
    ("DELETE", "/v1/mcp/servers/{name}"): Access.CODE,
    ("POST", "/twilio/voice"): Access.TWILIO,
    ("GET", "/twilio/stream"): Access.TWILIO,
}


def route_access(request: web.Request) -> Access:
    resource = request.match_info.route.resource
    if resource is None:
        return Access.ADMIN  # no such route: answer 401 before 404, so unknown paths reveal nothing
    method = "GET" if request.method == "HEAD" else request.method
    return ROUTE_ACCESS.get((method, resource.canonical), Access.ADMIN)


class TokenClaims(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scopes: tuple[TokenScope, ...] = Field(min_length=1)
    agent: str
    exp: int
    jti: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who sent a request: ``open`` (no key configured), ``key`` (the API key) or ``token`` (scoped)."""

    kind: Literal["open", "key", "token"]
    claims: TokenClaims | None = None

    def may_use_agent(self, agent_id: str) -> bool:
        return self.claims is None or self.claims.agent == agent_id

    @property
    def agent_id(self) -> str | None:
        """The one agent a token is limited to (None: any agent)."""
        return self.claims.agent if self.claims is not None else None


OPEN = Principal("open")
KEY = Principal("key")
PRINCIPAL = web.RequestKey("principal", Principal)


def principal_of(request: web.Request) -> Principal:
    principal: Principal = request.get(PRINCIPAL, OPEN)
    return principal


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signing_key(api_key: str) -> bytes:
    # A derived key, so a token's signature is never a MAC under the API key itself.
    return hmac.new(api_key.encode(), _SIGNING_CONTEXT, hashlib.sha256).digest()


def issue_token(api_key: str, *, scopes: tuple[TokenScope, ...], agent_id: str, ttl_s: int = C.TOKEN_TTL_S,
                now: float | None = None) -> tuple[str, TokenClaims]:
    claims = TokenClaims(scopes=scopes, agent=agent_id, exp=int((now or time.time()) + ttl_s),
                         jti=secrets.token_urlsafe(9))
    body = f"{TOKEN_PREFIX}.{_b64(claims.model_dump_json().encode())}"
    sig = hmac.new(_signing_key(api_key), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(sig)}", claims


def read_token(api_key: str, token: str, *, now: float | None = None) -> TokenClaims | None:
    """The claims of a valid, unexpired token; None for anything else (the signature is checked first)."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    # a header's bytes that are no UTF-8 arrive as surrogates (aiohttp decodes with surrogateescape): keep them bytes
    signed = f"{parts[0]}.{parts[1]}".encode("utf-8", "surrogateescape")
    expected = hmac.new(_signing_key(api_key), signed, hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(expected, _unb64(parts[2])):
            return None
        claims = TokenClaims.model_validate_json(_unb64(parts[1]))
    except (ValueError, ValidationError, json.JSONDecodeError):
        return None
    if claims.exp < (now or time.time()):
        return None
    return claims


#: Subprotocols that carry a token: ours, and the one OpenAI's browser SDKs send for the Realtime API (a
#: scoped token goes there in place of an OpenAI key; the API key itself is never accepted this way).
_TOKEN_SUBPROTOCOLS = ("token.", "openai-insecure-api-key.")


def _bearer(request: web.Request) -> str | None:
    """The credentials of an ``Authorization: Bearer …`` header; the scheme in any case (RFC 9110 §11.1:
    hand-written clients send ``bearer``)."""
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def _presented_token(request: web.Request, *, websocket: bool) -> str | None:
    bearer = _bearer(request)
    if bearer is not None and bearer.startswith(TOKEN_PREFIX + "."):
        return bearer
    if not websocket:
        return None  # query strings end up in logs; only WebSocket upgrades, which cannot set headers, use them
    if token := request.query.get("token"):
        return token
    for proto in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        proto = proto.strip()
        for prefix in _TOKEN_SUBPROTOCOLS:
            if proto.startswith(prefix):
                return proto[len(prefix):]
    return None


def authenticate(request: web.Request, api_key: str, *, websocket: bool) -> Principal | None:
    bearer = _bearer(request)
    if bearer is not None and hmac.compare_digest(bearer.encode("utf-8", "surrogateescape"),
                                                  api_key.encode("utf-8", "surrogateescape")):
        return KEY
    token = _presented_token(request, websocket=websocket)
    if token is None:
        return None
    claims = read_token(api_key, token)
    return Principal("token", claims) if claims is not None else None


def is_browser_request(request: web.Request) -> bool:
    """Browsers send Origin on every non-GET and WebSocket request and Sec-Fetch-* on all of them."""
    return "Origin" in request.headers or "Sec-Fetch-Site" in request.headers or "Sec-Fetch-Mode" in request.headers


def check_access(request: web.Request, access: Access, api_key: str | None, *, admin_api: bool) -> Principal:
    """The principal of an allowed request; raises ``AuthenticationRequired`` or ``AccessDenied`` otherwise."""
    if access in (Access.PUBLIC, Access.TWILIO):
        return OPEN
    if access is Access.CODE and not admin_api:
        raise AccessDenied("routes that run code (tools, MCP servers) are turned off on this server "
                           "(--no-admin-api)", code="admin_api_disabled")
    if api_key is None:
        if access is Access.CODE and is_browser_request(request):
            raise AccessDenied("web pages may not register or run code on a server without an API key; "
                               "use the CLI or curl, or set VOICE_LETTA_API_KEY", code="browser_not_allowed")
        return OPEN
    principal = authenticate(request, api_key, websocket=access is Access.VOICE)
    if principal is None:
        raise AuthenticationRequired("Missing or invalid API key. Send 'Authorization: Bearer <key>'.")
    if principal.claims is None:
        return principal
    needed: TokenScope | None = {Access.VOICE: "voice", Access.READ: "read"}.get(access)  # type: ignore[assignment]
    if needed is None or needed not in principal.claims.scopes:
        raise AccessDenied("this token does not grant access to this route; use the API key",
                           code="token_scope")
    agent_id = request.match_info.get("agent_id")
    if agent_id is not None and agent_id != principal.claims.agent:
        raise AccessDenied("this token is for another agent", code="agent_not_allowed")
    return principal


def auth_middleware(config: C.ServerConfig) -> web.middleware:  # type: ignore[valid-type]
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request[PRINCIPAL] = check_access(request, route_access(request), config.api_key,
                                          admin_api=config.admin_api)
        return await handler(request)

    return middleware
