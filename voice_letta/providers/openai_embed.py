"""Embeddings through OpenAI's ``/v1/embeddings`` (text-embedding-3-small, 1536-d by default)."""

from __future__ import annotations

from collections.abc import Sequence

import openai

from voice_letta.agent.ports import Embedder
from voice_letta.errors import ProviderError
from voice_letta.providers._errors import map_provider_errors
from voice_letta.providers._openai_client import OpenAIClientHolder

DEFAULT_EMBED_MODEL = "text-embedding-3-small"
DEFAULT_EMBED_DIM = 1536
MAX_INPUTS_PER_REQUEST = 2048  # the API's limit on ``input`` items


class OpenAIEmbedder(OpenAIClientHolder, Embedder):
    def __init__(
        self,
        *,
        model: str = DEFAULT_EMBED_MODEL,
        dim: int = DEFAULT_EMBED_DIM,
        send_dimensions: bool | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 2,
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        self.model = model
        self.dim = dim
        # text-embedding-3-* can shorten vectors server-side; only ask when not the model's native size.
        self.send_dimensions = (dim != DEFAULT_EMBED_DIM) if send_dimensions is None else send_dimensions
        super().__init__(api_key=api_key, base_url=base_url, timeout_s=timeout_s, max_retries=max_retries,
                         client=client)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        out: list[list[float]] = []
        if not texts:
            return out
        client = await self._get_client()
        items = [t if t else " " for t in texts]  # the API rejects empty strings
        for start in range(0, len(items), MAX_INPUTS_PER_REQUEST):
            batch = items[start : start + MAX_INPUTS_PER_REQUEST]
            async with map_provider_errors("openai-embeddings", secrets=(self._api_key,)):
                if self.send_dimensions:
                    resp = await client.embeddings.create(model=self.model, input=batch, dimensions=self.dim)
                else:
                    resp = await client.embeddings.create(model=self.model, input=batch)
            rows = sorted(resp.data, key=lambda d: d.index)
            if len(rows) != len(batch):
                raise ProviderError(f"openai-embeddings: {len(rows)} vectors for {len(batch)} inputs")
            for row in rows:
                if len(row.embedding) != self.dim:
                    raise ProviderError(f"openai-embeddings: got {len(row.embedding)}-d vectors, expected {self.dim}")
                out.append([float(x) for x in row.embedding])
        return out
