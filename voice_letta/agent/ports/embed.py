"""Embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from voice_letta.agent.models import EmbeddingConfig


class Embedder(Protocol):
    model: str
    dim: int

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class EmbedderFactory(Protocol):
    """The embedder for an agent's ``EmbeddingConfig`` (built once per config, loaded lazily)."""

    def for_config(self, config: EmbeddingConfig) -> Embedder: ...


class CrossEmbedder(Protocol):
    """A second embedder beside the agent's own (``beside``, the model whose vocabulary it fills in): it judges
    which passages that model cannot read (other languages and scripts) and embeds those, and the questions put to
    an agent that holds any (``providers/e5_embed.py``)."""

    model: str
    dim: int
    beside: str

    async def judge(self, texts: Sequence[str], *, background: bool = False) -> list[np.ndarray | None]:
        """Each text's vector, or None when ``beside`` reads it (no second vector needed). ``background``: no
        search waits for these (a catch-up): they take only CPU time searches and turns leave."""
        ...

    async def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) unit vectors of questions."""
        ...
