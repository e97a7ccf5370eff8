"""A lazily built ``openai.AsyncOpenAI`` shared by the OpenAI speech and embedding adapters."""

from __future__ import annotations

import asyncio

import openai


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
            api_key=self._api_key, base_url=self._base_url, timeout=self._timeout_s, max_retries=self._max_retries
        )

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.close()
