"""``X-Twilio-Signature``: Twilio signs each request with the account's auth token.

    signature = base64(HMAC-SHA1(auth_token, full_url + key1 + value1 + key2 + value2 ...))

where ``full_url`` is the URL Twilio requested (scheme, host, path and query string, exactly as configured
in the console or TwiML) and the POST form parameters are sorted by name (values of a repeated name sorted
too) and concatenated without separators. WebSocket upgrades and GET requests are signed over the URL alone.

Behind a proxy or tunnel (ngrok) the server sees a different URL from the one Twilio signed, so the URL is
rebuilt from ``VOICE_LETTA_PUBLIC_URL`` when set, else from ``X-Forwarded-Proto``/``X-Forwarded-Host`` and
``Host``. Twilio is inconsistent about explicit default ports, so both forms are tried (as Twilio's own
helper library does).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web

SIGNATURE_HEADER = "X-Twilio-Signature"
_DEFAULT_PORTS = {"https": 443, "wss": 443, "http": 80, "ws": 80}


def compute_signature(auth_token: str, url: str, params: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> str:
    items = list(params.items()) if isinstance(params, Mapping) else list(params)
    data = url + "".join(k + v for k, v in sorted(items))
    # a header that is no UTF-8 (X-Forwarded-Host, Host) reaches the URL as surrogates: sign its own bytes
    digest = hmac.new(auth_token.encode(), data.encode("utf-8", "surrogateescape"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _port_variants(url: str) -> list[str]:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number (an odd X-Forwarded-Host)
    except ValueError:
        return [url]
    default = _DEFAULT_PORTS.get(parts.scheme)
    if default is None or parts.hostname is None:
        return [url]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port is None:
        with_port = urlunsplit(parts._replace(netloc=f"{host}:{default}"))
        return [url, with_port]
    if parts.port == default:
        return [url, urlunsplit(parts._replace(netloc=host))]
    return [url]


def is_valid(auth_token: str, signature: str | None, urls: Iterable[str],
             params: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> bool:
    """True when ``signature`` matches one of the candidate ``urls`` (each also with/without its default port)."""
    if not signature:
        return False
    items = list(params.items()) if isinstance(params, Mapping) else list(params)
    presented = signature.encode("utf-8", "surrogateescape")  # compare_digest refuses str that is not ASCII
    for url in urls:
        for candidate in _port_variants(url):
            if hmac.compare_digest(compute_signature(auth_token, candidate, items).encode("ascii"), presented):
                return True
    return False


def external_base(request: web.Request, public_url: str | None) -> str:
    """``scheme://host`` as the caller (Twilio) saw it."""
    if public_url:
        return public_url.rstrip("/")
    proto = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip() or "http"
    host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    return f"{proto}://{host}"


def websocket_scheme(url: str) -> str:
    """``url`` with ``https://``/``http://`` turned into ``wss://``/``ws://``."""
    return url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)


def external_url(request: web.Request, public_url: str | None, *, websocket: bool = False) -> str:
    """The full URL of ``request`` as Twilio requested it (``wss``/``ws`` for a WebSocket upgrade)."""
    base = external_base(request, public_url)
    if websocket:
        base = websocket_scheme(base)
    return base + request.rel_url.path_qs


def signed_url_candidates(request: web.Request, public_url: str | None, *, websocket: bool = False) -> list[str]:
    """The rebuilt external URL first, then the URL as the server saw it (a direct connection)."""
    urls = [external_url(request, public_url, websocket=websocket)]
    direct = str(request.url)
    if websocket:
        direct = websocket_scheme(direct)
    if direct not in urls:
        urls.append(direct)
    return urls
