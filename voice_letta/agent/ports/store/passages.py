"""The store contract for passages (archival memory) and what the in-memory indexes load."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from voice_letta.agent.models import Passage

if TYPE_CHECKING:
    from voice_letta.agent.ports.store.request_keys import KeyedPassages


@dataclass(frozen=True, slots=True)
class PassageHit:
    passage: Passage
    score: float


@dataclass(frozen=True, slots=True)
class PassageVectors:
    """An agent's passage embeddings of one model, for an in-memory vector index (float32 rows)."""

    ids: tuple[str, ...]
    vectors: bytes  # len(ids) * dim float32 little-endian values, row-major
    dim: int
    start_at: tuple[float, ...]  # coalesce(start_at, end_at, created_at)
    end_at: tuple[float, ...]  # coalesce(end_at, start_at, created_at)
    other_models: int  # passages of this agent embedded with another model (or none), not included


@dataclass(frozen=True, slots=True)
class CrossVectors:
    """An agent's second vectors of one cross-lingual model (``providers/e5_embed.py``): the passages it judged
    that have one (float32 rows, insertion order), and the passages it has not judged yet. A judged passage
    without a vector is one the agent's own embedder reads (it is in neither list)."""

    ids: tuple[str, ...]
    vectors: bytes  # len(ids) * dim float32 little-endian values, row-major
    dim: int
    unjudged: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PassageTexts:
    """An agent's passages for its in-memory keyword index, in insertion order (no vectors)."""

    ids: tuple[str, ...]
    texts: tuple[str, ...]
    synopses: tuple[str, ...]
    start_at: tuple[float, ...]  # coalesce(start_at, end_at, created_at)
    end_at: tuple[float, ...]  # coalesce(end_at, start_at, created_at)
    # each passage's stored keyword terms and flags (``recall.features.encode_passage``), None where not stored yet
    terms: tuple[bytes | None, ...] = ()
    superseded_by: tuple[str | None, ...] = ()  # the passage that replaces each one, if any


class PassageStore(Protocol):
    """Passages: archival memory, its keyword search, and the rows the in-memory vector and keyword indexes load."""

    # passages
    async def insert_passages(self, passages: Sequence[Passage]) -> list[Passage]: ...
    async def write_passages(
        self, passages: Sequence[Passage], supersedes: Sequence[Sequence[str]], *, keyed: KeyedPassages | None = None
    ) -> tuple[list[Passage], list[list[str]]]:
        """Insert ``passages`` and mark, for each, the agent's passages it ``supersedes`` (as ``mark_superseded``),
        in one transaction; with ``keyed``, the request key's first response is recorded in it too (else
        ``KeyClaimLost``, and nothing is stored). Returns the stored passages and, for each, the ids it marked."""
        ...
    async def update_passage(self, passage: Passage, *, expected: Passage | None = None,
                             keyed: KeyedPassages | None = None) -> Passage:
        """Write the stored passage ``passage.id`` of ``passage.agent_id``'s text, synopsis, ``start_at``, ``end_at``
        and embedding (its model and dimension with it) as ``passage`` has them, its keyword terms recomputed, and
        its second (cross-lingual) vector dropped when the words changed (judged again); supersession marks and
        ``created_at`` stay. With ``keyed``, the key's first response (``respond([updated], [[]])``) is recorded in
        the same transaction (else ``KeyClaimLost``, nothing written). With ``expected`` (the passage as the caller
        read it), a compare-and-set: ConflictError, nothing written, when its text, synopsis or times are no longer
        those (another edit came between the read and this write). NotFoundError when the agent has no such
        passage. Returns the passage as stored (without its vector)."""
        ...
    async def list_passages(self, agent_id: str, *, limit: int = 100, offset: int = 0) -> list[Passage]: ...
    async def delete_passage(self, agent_id: str, passage_id: str) -> None: ...
    async def search_passages_text(
        self, agent_id: str, query: str, *, start_at: float | None = None, end_at: float | None = None,
        limit: int = 20,
    ) -> list[PassageHit]: ...

    # supersession, and the reads and writes of the in-memory indexes (memory_search.py, memory_manager.py)
    async def mark_superseded(self, agent_id: str, old_ids: Sequence[str], new_id: str, *, at: float) -> list[str]:
        """Mark the agent's passages ``old_ids`` as superseded by its passage ``new_id`` (``superseded_by``,
        ``superseded_at``); passages already superseded, unknown ids, other agents' passages and ``new_id`` itself
        are left alone. Returns the ids marked."""
        ...

    async def get_passages(
        self, agent_id: str, passage_ids: Sequence[str], *, with_vectors: bool = False
    ) -> list[Passage]:
        """In the order asked, without vectors (``embedding`` is None) unless ``with_vectors``."""
        ...

    async def search_passage_ids(
        self, agent_id: str, query: str, *, start_at: float | None = None, end_at: float | None = None,
        limit: int = 20,
    ) -> list[tuple[str, float]]:
        """BM25 over passages like ``search_passages_text``, returning (id, score) only."""
        ...

    async def count_passages(self, agent_id: str) -> int: ...
    async def load_passage_vectors(self, agent_id: str, model: str, dim: int) -> PassageVectors: ...
    async def load_passage_texts(self, agent_id: str) -> PassageTexts:
        """Every passage of the agent (id, lines, synopsis, when said, stored terms), oldest insert first."""
        ...

    async def set_passage_terms(self, agent_id: str, terms: Sequence[tuple[str, bytes]]) -> int:
        """Store (passage id, encoded terms) pairs computed for passages written without them; return how many
        rows changed. Not a change other processes reload for (no change-log row)."""
        ...

    async def passages_to_reembed(
        self, agent_id: str, model: str, dim: int, *, limit: int
    ) -> tuple[list[Passage], int]:
        """Up to ``limit`` passages (oldest first, without vectors) not embedded by ``model`` at ``dim``, and how
        many such passages the agent has in all."""
        ...

    async def load_cross_vectors(self, agent_id: str, model: str, dim: int) -> CrossVectors:
        """The agent's second vectors of ``model`` at ``dim`` and the passages ``model`` has not judged yet."""
        ...

    async def set_cross_vectors(
        self, agent_id: str, vectors: Sequence[tuple[str, Sequence[float] | None]], *, model: str
    ) -> int:
        """Record that ``model`` judged these passages: (id, its vector, or None when the passage needs none).
        Returns rows changed. Not a change other processes reload for (no change-log row)."""
        ...

    async def set_passage_embeddings(
        self, agent_id: str, vectors: Sequence[tuple[str, Sequence[float]]], *, model: str,
        embedded_from: Sequence[tuple[str, str]] | None = None,
    ) -> int:
        """Replace passages' vectors (and their model and dimension) in one transaction; returns rows changed. With
        ``embedded_from`` (the text and synopsis each vector was computed from), a passage whose words are no longer
        those (edited meanwhile: it has the vector of its new words) is left as it is."""
        ...
