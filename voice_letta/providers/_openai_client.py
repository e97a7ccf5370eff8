"""A lazily built ``openai.AsyncOpenAI`` shared by the OpenAI speech and embedding adapters.

Its HTTP client checks every 2xx answer before the SDK parses it (``refuse_a_page``): an HTML page (a captive
portal, a proxy's block page, a base URL that is a web UI) or a JSON error body sent with status 200 (relays and
gateways) is the typed error naming it (``providers/openai_answer.py``). Without the check the SDK handed the page
back as a string (``'str' object has no attribute 'data'`` in the embedder) or failed with "No embedding data
received". The SDK passes an error raised there on as it is, without retrying it.
"""

from __future__ import annotations

import asyncio

import httpx2
import openai

from voice_letta.providers.openai_answer import json_error, not_a_stream, read_capped

_ERROR_KEYS = (b'"error"', b'"detail"')


class OpenAIClientHolder:
    def __init__(self, *, api_key: str | None, base_url: str | None, timeout_s: float, max_retries: int,
                 client: openai.AsyncOpenAI | None) -> None:
        self._api_key = api_key
        self._owns_client = client is None
        self._client = client
        self._base_url = base_url
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._client_lock = asyncio.Lock()

    async def _get_client(self) -> openai.AsyncOpenAI:
        # Building a client reads CA certificates and imports the transport: do it off the loop, once.
        client = self._client
        if client is None:
            async with self._client_lock:
                client = self._client
                if client is None:
                    client = self._client = await asyncio.to_thread(self._make_client)
        return client

    def _make_client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            api_key=self._api_key, base_url=self._base_url, timeout=self._timeout_s, max_retries=self._max_retries,
            http_client=openai.DefaultAsyncHttpxClient(event_hooks={"response": [refuse_a_page]}),
        )

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.close()


async def refuse_a_page(response: httpx2.Response) -> None:
    """An httpx response hook: raise the typed error for a 2xx answer that is an HTML page or a JSON error body.

    Audio and text answers pass untouched; a JSON answer is read here (the SDK reads it whole anyway, and keeps what
    was read) and parsed again only when an error key shows in its first 512 bytes."""
    if not 200 <= response.status_code < 300:
        return
    content_type = response.headers.get("content-type", "")
    label = f"openai ({response.request.method} {response.request.url.path})"
    if "html" in content_type:
        try:
            body = await read_capped(response.aiter_bytes())
        finally:
            await response.aclose()
        raise not_a_stream(body, label=label, status=response.status_code, content_type=content_type,
                           expected="the API's answer")
    if "json" in content_type:
        head = (await response.aread())[:512]
        if any(key in head for key in _ERROR_KEYS):
            try:
                obj = response.json()
            except ValueError:
                return  # not JSON after all: the SDK says so
            error = json_error(obj, label=label, what=f"HTTP {response.status_code} ({content_type})",
                               expected="the API's answer")
            if error is not None:
                raise error
