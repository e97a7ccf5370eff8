"""The store contract for the change log (several server processes on one database)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

ChangeKind = Literal["agent", "passage_added", "passages", "memory_updated"]


@dataclass(frozen=True, slots=True)
class Change:
    """One row of the change log: what another server process must hear about (see ``Store.changes_since``)."""

    id: int
    agent_id: str
    kind: ChangeKind  # agent: settings/blocks/tools; passage_added; passages: deleted or changed; memory_updated
    origin: str  # the worker that made the change
    at: float
    passage_id: str | None = None  # passage_added
    passages_added: int = 0  # memory_updated
    passages_removed: int = 0  # memory_updated
    reason: str = ""  # memory_updated


class ChangeStore(Protocol):
    """The change log (several processes on one database): agent, block, tool and passage writes add rows by
    themselves, in their own transaction; memory.updated for live sessions is recorded explicitly."""

    async def record_memory_updated(
        self, agent_id: str, *, passages_added: int, passages_removed: int, reason: str, now: float
    ) -> None: ...
    async def changes_since(self, after_id: int, *, limit: int = 500) -> list[Change]:
        """Rows with ``id > after_id``, oldest first (every origin, this process's too)."""
        ...

    async def latest_change_id(self) -> int: ...
    async def wait_for_changes(self, timeout_s: float) -> None:
        """Return after ``timeout_s``, or sooner when the database signals new rows (PostgreSQL NOTIFY)."""
        ...

    async def prune_changes(self, *, before: float) -> int:
        """Delete rows older than ``before``; returns how many."""
        ...
