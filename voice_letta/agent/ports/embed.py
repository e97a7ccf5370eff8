"""Embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from voice_letta.agent.models import EmbeddingConfig


class Embedder(Protocol):
    model: str
    dim: int

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class EmbedderFactory(Protocol):
    """The embedder for an agent's ``EmbeddingConfig`` (built once per config, loaded lazily)."""

    def for_config(self, config: EmbeddingConfig) -> Embedder: ...
