"""How a streamed chat-completions request goes out through the openai SDK's client (``OpenAIChatModel``).

Three ways, cheapest first; each keeps the SDK's URL, auth and client headers, timeouts and errors:

* **direct** (a client built here, on the SDK's aiohttp transport, no proxy): the request the SDK built once
  (``_template``) is sent with the transport's own ``aiohttp`` session, and the body read from it as it arrives
  (a gzip/deflate body decoded by aiohttp, as httpx2 would decode it).
  The SDK's transport would wrap every request and response in ``httpx2`` objects (a header copy and
  normalisation each way, its auth/redirect/hook layers): ~0.2 ms of CPU per request, about 6 % of a turn on
  the real provider path (docs/benchmarks.md). aiohttp errors go through the transport's own exception map
  (``map_aiohttp_exceptions``), then become the SDK's ``APITimeoutError``/``APIConnectionError`` as its client
  would raise them, and an HTTP error status becomes the SDK's status error built from the response;
* **template**: the same request sent with the SDK's ``httpx2`` client (another transport, or a proxy);
* **post**: ``client.post`` each time (a client passed in, e.g. Azure's, which routes by the body's model).

The private SDK members this needs are checked at import (``TEMPLATE_OK``, ``DIRECT_OK``); without them the next
way down is used.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx2
import openai
from multidict import CIMultiDict

STREAM_OPTIONS: openai.RequestOptions = {"security": {"bearer_auth": True}}

try:  # the SDK internals the request template uses; without them every request goes through ``client.post``
    from openai._models import FinalRequestOptions

    TEMPLATE_OK = all(hasattr(openai.AsyncOpenAI, name) for name in (
        "_build_request", "_prepare_options", "_prepare_request", "_make_status_error_from_response"))
except ImportError:  # pragma: no cover - another SDK version
    TEMPLATE_OK = False

try:  # the SDK's aiohttp transport (openai.DefaultAioHttpClient); without it requests go through httpx2
    from openai._vendor.httpx_aiohttp.transport import AiohttpTransport, map_aiohttp_exceptions

    DIRECT_OK = hasattr(AiohttpTransport, "get_client")
except ImportError:  # pragma: no cover - another SDK version
    DIRECT_OK = False


def http_client(timeout_s: float) -> httpx2.AsyncClient:
    """The SDK's aiohttp transport (``openai.DefaultAioHttpClient``): aiohttp's C HTTP parser instead of
    httpcore/h11/anyio, measured at 0.8 instead of 1.2 ms of CPU per streamed request (docs/benchmarks.md)."""
    client: httpx2.AsyncClient = openai.DefaultAioHttpClient(timeout=timeout_s)
    return client


@dataclass(slots=True)
class Sent:
    """A request whose response status was OK: its body as it arrives, and how to let the connection go."""

    parts: AsyncIterator[bytes]
    request: httpx2.Request  # what the SDK's errors name
    aclose: Callable[[], Awaitable[None]]
    at_eof: Callable[[], bool] = lambda: False  # the whole body was read (nothing left to drain)
    status: int = 200  # what the answer's sniffing names when the body is no event stream (openai_answer.py)
    content_type: str = ""
    location: str = ""  # a redirect's target (the direct way does not follow redirects: a captive portal's 302)


@dataclass(frozen=True, slots=True)
class _Direct:
    session: aiohttp.ClientSession
    url: str
    headers: CIMultiDict[str]
    timeout: aiohttp.ClientTimeout
    server_hostname: str | None


class RequestSender:
    """Sends ``POST /chat/completions`` (streamed) bodies for one ``openai.AsyncOpenAI`` client."""

    def __init__(self, client: openai.AsyncOpenAI, *, own_client: bool) -> None:
        self._client = client
        self._use_template = own_client and TEMPLATE_OK
        self._template: httpx2.Request | None = None
        self._direct: _Direct | None = None

    async def send(self, body: bytes, params: dict[str, Any]) -> Sent:
        if not self._use_template:
            # Azure's client routes by the body's model, so it gets the dict.
            as_dict = params if isinstance(self._client, openai.AsyncAzureOpenAI) else None
            response = await self._client.post(
                "/chat/completions", body=as_dict, content=None if as_dict is not None else body,
                cast_to=httpx2.Response, stream=True, options=STREAM_OPTIONS)
            return Sent(response.aiter_bytes(), response.request, response.aclose, status=response.status_code,
                        content_type=response.headers.get("content-type", ""),
                        location=response.headers.get("location", ""))
        template = self._template or await self._build_template()
        direct = self._direct
        if direct is not None:
            return await self._send_direct(direct, template, body)
        return await self._send_template(template, body)

    async def _build_template(self) -> httpx2.Request:
        """The request the SDK builds for ``client.post`` (URL, auth and client headers, timeouts), built once."""
        client = self._client
        options = await client._prepare_options(FinalRequestOptions.construct(
            method="post", url="/chat/completions", content=b"", **STREAM_OPTIONS))
        template = client._build_request(options)
        await client._prepare_request(template)
        if "content-length" in template.headers:
            del template.headers["content-length"]  # each request's own
        self._template = template
        self._direct = _direct_for(client, template)
        return template

    async def _send_template(self, template: httpx2.Request, body: bytes) -> Sent:
        client = self._client
        request = httpx2.Request("POST", template.url, headers=template.headers, content=body,
                                 extensions=template.extensions)
        try:
            response = await client._client.send(request, stream=True)
        except httpx2.TimeoutException as exc:
            raise openai.APITimeoutError(request=request) from exc
        except (httpx2.RequestError, ssl.SSLError) as exc:
            raise openai.APIConnectionError(request=request) from exc
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            raise client._make_status_error_from_response(response)
        return Sent(response.aiter_bytes(), request, response.aclose, status=response.status_code,
                    content_type=response.headers.get("content-type", ""),
                    location=response.headers.get("location", ""))

    async def _send_direct(self, direct: _Direct, template: httpx2.Request, body: bytes) -> Sent:
        try:
            response = await direct.session.request(
                "POST", direct.url, headers=direct.headers, data=body, allow_redirects=False,
                compress=False, timeout=direct.timeout,
                server_hostname=direct.server_hostname)
        except Exception as exc:
            error = transport_error(exc)  # aiohttp's errors as the transport raises them (httpx2's)
            if isinstance(error, httpx2.TimeoutException):
                raise openai.APITimeoutError(request=template) from error
            if isinstance(error, httpx2.RequestError | ssl.SSLError):
                raise openai.APIConnectionError(request=template) from error
            if error is exc:
                raise
            raise error from exc
        if response.status >= 400:
            try:
                with map_aiohttp_exceptions():
                    content = await response.read()
            finally:
                response.release()
            # aiohttp decoded the body (gzip/deflate, as httpx2 would): its Content-Encoding no longer applies
            headers = [(k, v) for k, v in response.raw_headers if k.lower() != b"content-encoding"]
            raise self._client._make_status_error_from_response(httpx2.Response(
                response.status, headers=headers, content=content, request=template))

        async def aclose() -> None:
            try:
                await response.__aexit__(None, None, None)
            except Exception as exc:
                raise transport_error(exc) from exc

        return Sent(_body(response), template, aclose, response.content.at_eof, status=response.status,
                    content_type=response.headers.get("Content-Type", ""),
                    location=response.headers.get("Location", ""))


def transport_error(exc: Exception) -> BaseException:
    """What the SDK's aiohttp transport raises for an aiohttp error (``map_aiohttp_exceptions``: httpx2's errors),
    else ``exc`` itself. Mapped only once something failed: the context manager around every send and read of a
    turn cost more than the rest of the read loop."""
    try:
        with map_aiohttp_exceptions():
            raise exc
    except BaseException as mapped:
        return mapped
    raise AssertionError("unreachable")  # pragma: no cover


async def _body(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    try:
        async for part in response.content.iter_any():
            yield part
    except Exception as exc:  # a cut stream is httpx2's ReadError, as through the SDK's transport
        error = transport_error(exc)
        if error is exc:
            raise
        raise error from exc


def _direct_for(client: openai.AsyncOpenAI, template: httpx2.Request) -> _Direct | None:
    """The SDK transport's aiohttp session and the template's request as aiohttp takes it, when the client sends
    through the SDK's aiohttp transport without a proxy; else None (requests go through httpx2)."""
    if not DIRECT_OK:
        return None
    transport = client._client._transport_for_url(template.url)
    if not isinstance(transport, AiohttpTransport) or getattr(transport, "proxy", True) is not None \
            or not hasattr(transport, "client"):
        return None
    if not isinstance(transport.client, aiohttp.ClientSession):
        transport.client = transport.get_client()  # as the transport does on its first request
    session = transport.client
    timeout = template.extensions.get("timeout", {})
    return _Direct(
        session=session, url=str(template.url), headers=CIMultiDict(template.headers.multi_items()),
        timeout=aiohttp.ClientTimeout(sock_connect=timeout.get("connect"), sock_read=timeout.get("read"),
                                      connect=timeout.get("pool")),
        server_hostname=template.extensions.get("sni_hostname"))
