"""Which requests reach the server at all: a Host allowlist, an Origin policy, JSON-only mutations, CORS.

A server on ``127.0.0.1`` is reachable from every web page the user visits. Three browser tricks reach it:

- **Simple cross-site requests** (``fetch(url, {mode: "no-cors", method: "POST"})``, HTML forms) are sent
  without a preflight, with a ``text/plain`` or form body. They carry an ``Origin`` header, so any request
  whose ``Origin`` is neither the server's own nor configured is refused, and mutating requests must be
  ``application/json`` (which a page can only send after a CORS preflight that we do not grant).
- **Cross-site WebSockets** are not covered by CORS at all; the handshake carries ``Origin``, checked the same.
- **DNS rebinding**: a page on ``rebind.evil.example`` re-resolves its own name to 127.0.0.1 and is then
  same-origin with us in the browser's eyes. Its requests still say ``Host: rebind.evil.example``, so only
  allowlisted host names are served (IP literals cannot be rebound and pass when bound to a wildcard).

Requests without ``Origin`` (curl, SDKs, Twilio) are not browsers' cross-site requests, except no-cors
``GET``s, which browsers mark with ``Sec-Fetch-Site``: those are refused too unless they are top-level
navigations to the page (a link to it). This is the "resource isolation policy" of
https://web.dev/articles/fetch-metadata, narrowed: a navigation to an API route is refused as well, because
some GETs make the server act on their query (a provider model list fetched from a ``base_url``, with the key).

The policy is small and is the product's own security boundary, so it is written here rather than taken
from a CORS library: aiohttp-cors only adds response headers and would still run a refused request.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler

from voice_letta.config import ServerConfig
from voice_letta.errors import ConfigError
from voice_letta.server.auth import Access, route_access
from voice_letta.wire.openai_chat import error_body

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "*"})
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Twilio posts its webhooks form-encoded; those routes check Twilio's signature instead (ws_twilio.py).
FORM_PATH_PREFIXES = ("/twilio/",)
CORS_ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE"
CORS_ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-Id"
# The response headers docs/protocol.md tells a client to read that are not CORS-safelisted (a page on an allowed
# origin cannot see any other): a replayed write (§Retried writes), when to retry a key still in use, the id to
# quote for a request.
CORS_EXPOSE_HEADERS = "Idempotent-Replayed, Retry-After, X-Request-Id"
CORS_MAX_AGE_S = 600
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

# Sent with every response. The page may not be framed (clickjacking the microphone button), loads nothing
# from elsewhere, and no other site can embed our responses as images or scripts (CORP).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
PAGE_CSP = ("default-src 'self'; connect-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
            "style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'")


def split_authority(value: str) -> tuple[str, int | None] | None:
    """``Host``-style ``name[:port]`` → (lower-case name without brackets or trailing dot, port); None if bad."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1:]
    else:
        name, sep, port_text = value.partition(":")
        rest = ":" + port_text if sep else ""
    port: int | None = None
    if rest:
        digits = rest[1:]
        if not rest.startswith(":") or not digits.isascii() or not digits.isdigit() or len(digits) > 5:
            return None
        port = int(digits)
        if port > 65535:
            return None
    name = name.rstrip(".")
    if not name or any(c in name for c in "/\\@?# "):
        return None
    return name, port


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int  # explicit, or the scheme's default

    @classmethod
    def parse(cls, value: str) -> Origin | None:
        try:
            parts = urlsplit(value.strip())
        except ValueError:
            return None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or parts.path not in ("", "/") or parts.query or parts.fragment:
            return None
        authority = split_authority(parts.netloc)
        if authority is None:
            return None
        name, port = authority
        return cls(scheme, name, port if port is not None else _DEFAULT_PORTS[scheme])

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = _DEFAULT_PORTS[self.scheme] == self.port
        return f"{self.scheme}://{host}" + ("" if default else f":{self.port}")


@dataclass(frozen=True, slots=True)
class WebPolicy:
    """The Host and Origin rules of one server, built once from its configuration."""

    hosts: frozenset[str]
    host_suffixes: tuple[str, ...] = ()
    any_host: bool = False
    any_ip_host: bool = False
    cors_origins: frozenset[Origin] = frozenset()

    @classmethod
    def from_config(cls, config: ServerConfig) -> WebPolicy:
        hosts = set(LOOPBACK_NAMES)
        bind = config.host.strip().lower().strip("[]")
        wildcard = bind in WILDCARD_BINDS
        if not wildcard:
            hosts.add(bind)
        if config.public_url and (public := Origin.parse(_origin_part(config.public_url))) is not None:
            hosts.add(public.host)
        suffixes: list[str] = []
        any_host = False
        for entry in config.allowed_hosts:
            entry = entry.strip().lower()
            if "://" in entry:  # the address copied from the browser: its host is meant ("https://app.example.com/")
                entry = urlsplit(entry).netloc
            entry = entry.rstrip("/")
            if entry == "*":
                any_host = True
            elif entry.startswith("."):
                suffixes.append(entry)
            elif (parsed := split_authority(entry)) is not None:
                hosts.add(parsed[0])
            else:
                raise ConfigError(f"not a host name: {entry!r}")
        origins = set()
        for entry in config.allowed_origins:
            origin = Origin.parse(entry)
            if origin is None:
                raise ConfigError(f"not a web origin (scheme://host[:port]): {entry!r}")
            origins.add(origin)
        return cls(frozenset(hosts), tuple(suffixes), any_host, wildcard, frozenset(origins))

    def host_allowed(self, host_header: str | None) -> bool:
        if host_header is None:
            return True  # HTTP/1.0 tools; every browser sends Host, so rebinding is still refused
        parsed = split_authority(host_header)
        if parsed is None:
            return False
        name = parsed[0]
        if self.any_host or name in self.hosts:
            return True
        if self.any_ip_host and _is_ip(name):
            return True
        return any(name.endswith(s) or name == s[1:] for s in self.host_suffixes)

    def classify_origin(self, origin_header: str, host_header: str | None) -> str | None:
        """``"same"`` (the page this server serves), ``"cors"`` (a configured origin), or None (refuse)."""
        origin = Origin.parse(origin_header)
        if origin is None:  # includes "null" (sandboxed frames, file:// pages)
            return None
        if origin in self.cors_origins:
            return "cors"
        if host_header is not None and (host := split_authority(host_header)) is not None:
            name, port = host
            # The browser derived Host from the origin it is on, so defaults are the origin's scheme's (this
            # also holds behind a TLS-terminating proxy, where our own scheme is http).
            if name == origin.host and (port if port is not None else _DEFAULT_PORTS[origin.scheme]) == origin.port:
                return "same"
        return None


def _origin_part(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# OpenAI API routes a client of "an OpenAI-compatible server" may call that this server does not serve: a bare "Not
# Found" read like a wrong base URL (the OpenAI Agents SDK calls /v1/responses by default).
_CHAT_INSTEAD = "send turns to POST /v1/chat/completions (or speak over /v1/realtime); docs/protocol.md"
_NOT_SERVED = {
    "/v1/responses": "OpenAI's Responses API is not served: " + _CHAT_INSTEAD + " (OpenAI Agents SDK: "
                     "set_default_openai_api(\"chat_completions\"))",
    "/v1/completions": "legacy text completions are not served: " + _CHAT_INSTEAD,
    "/v1/embeddings": "embeddings are not served: the agent embeds its own memory (search it with GET "
                      "/v1/agents/{id}/archival/search)",
    "/v1/audio": "the audio endpoints are not served: speak to the agent over /v1/voice or /v1/realtime",
    "/v1/assistants": "the Assistants API is not served: " + _CHAT_INSTEAD,
    "/v1/threads": "the Assistants API is not served: " + _CHAT_INSTEAD,
}


def not_served(path: str) -> str | None:
    """What to use instead of an OpenAI route this server does not serve, else None."""
    for prefix, why in _NOT_SERVED.items():
        if path == prefix or path.startswith(prefix + "/"):
            return f"{path}: {why}"
    return None


def _refuse(status: int, code: str, message: str, param: str | None = None) -> web.Response:
    return web.json_response(error_body(message, type_="invalid_request_error" if status != 403 else
                                        "permission_error", code=code, param=param), status=status)


def _nul_in_url(request: web.Request) -> str | None:
    """Where the decoded path or query holds the NUL character (``%00``): "path" or the query key; else None.
    Ids and names from the URL reach the store, and PostgreSQL cannot take NUL in text (``GET /v1/agents/%00`` was
    a 500 storage_error there, a voice WebSocket's ``?agent=%00`` a storage_error event), as bodies are refused."""
    if "\x00" in request.path:
        return "path"
    for key, value in request.query.items():
        if "\x00" in key or "\x00" in value:
            return key.replace("\x00", "") or "query"
    return None


def is_json_content_type(value: str) -> bool:
    media = value.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _has_body(request: web.Request) -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def web_guard_middleware(policy: WebPolicy) -> web.middleware:  # type: ignore[valid-type]
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host")
        if not policy.host_allowed(host):
            log.warning("refused %s %s: Host %r is not allowed", request.method, request.path, (host or "")[:100])
            return _refuse(421, "host_not_allowed",
                           "this server does not answer for that Host name; add it with --allowed-host "
                           "(VOICE_LETTA_ALLOWED_HOSTS)")
        origin = request.headers.get("Origin")
        if origin is not None:
            kind = policy.classify_origin(origin, host)
            if kind is None:
                log.warning("refused %s %s: Origin %r is not allowed", request.method, request.path, origin[:100])
                return _refuse(403, "origin_not_allowed",
                               "requests from other web sites are refused; allow an origin with --allowed-origin "
                               "(VOICE_LETTA_ALLOWED_ORIGINS)")
            if kind == "cors" and request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
                return web.Response(status=204, headers={
                    "Access-Control-Allow-Origin": origin, "Vary": "Origin",
                    "Access-Control-Allow-Methods": CORS_ALLOW_METHODS,
                    "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
                    "Access-Control-Max-Age": str(CORS_MAX_AGE_S)})
        else:
            site = request.headers.get("Sec-Fetch-Site", "").lower()
            navigation = request.headers.get("Sec-Fetch-Mode", "").lower() == "navigate"
            # Another site may link to the page, nothing else: a navigation is a GET that any page can make
            # (a link, ``location.href``), and GET routes act, e.g. /v1/providers/openai/models?base_url=...
            # sends the provider's key from our environment to that URL.
            if site in ("cross-site", "same-site") and not (
                    navigation and request.method in ("GET", "HEAD") and route_access(request) is Access.PUBLIC):
                return _refuse(403, "origin_not_allowed", "requests from other web sites are refused")
        nul = _nul_in_url(request)
        if nul is not None:
            return _refuse(400, "invalid_request", f"the URL may not contain the NUL character (%00): {nul}", nul)
        # An empty body may carry any type (aiohttp's client says application/octet-stream).
        if (request.method in MUTATING_METHODS and not request.path.startswith(FORM_PATH_PREFIXES)
                and _has_body(request) and not is_json_content_type(request.headers.get("Content-Type", ""))):
            if (why := not_served(request.path)) is not None:  # a multipart transcription upload, say
                return _refuse(404, "http_404", why)
            return _refuse(415, "unsupported_media_type",
                           "request bodies must be JSON (Content-Type: application/json)")
        return await handler(request)

    return middleware


RESPONSE_STARTED = web.RequestKey("response_started", bool)  # headers sent: an error can no longer be answered


def add_response_headers(policy: WebPolicy, app: web.Application) -> None:
    """Security headers on every response (static files and errors included), CORS headers for allowed origins."""

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        request[RESPONSE_STARTED] = True
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if response.content_type == "text/html":
            response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        origin = request.headers.get("Origin")
        if origin is not None and policy.classify_origin(origin, request.headers.get("Host")) == "cors":
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE_HEADERS
            response.headers["Vary"] = "Origin"

    app.on_response_prepare.append(on_prepare)


def describe(policy: WebPolicy) -> Iterable[str]:
    """Lines for the start-up log: what this server answers for."""
    hosts = sorted(policy.hosts) + [f"*{s}" for s in policy.host_suffixes]
    if policy.any_ip_host:
        hosts.append("any IP address")
    yield "serving Host names: " + ("any (--allowed-host '*')" if policy.any_host else ", ".join(hosts))
    if policy.cors_origins:
        yield "cross-origin pages allowed (CORS): " + ", ".join(sorted(str(o) for o in policy.cors_origins))
