"""The store contract for messages (the agent's conversation history)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from voice_letta.agent.models import Message
from voice_letta.agent.ports.store.jobs import HandoffRange, MemoryJob

if TYPE_CHECKING:
    from voice_letta.agent.ports.store.request_keys import KeyedImport


@dataclass(frozen=True, slots=True)
class MessageHit:
    message: Message
    score: float  # higher is better


@dataclass(frozen=True, slots=True)
class MessageTail:
    """``load_message_tail``: the agent's user and assistant messages after a ``seq``, in ``seq`` order: the lines
    still in context (to know where the evicted prefix ends) and the out-of-context ones (evicted or imported) with
    their stored keyword terms (``recall.text.encode_terms``; None where not stored)."""

    ids: tuple[str, ...] = ()
    seqs: tuple[int, ...] = ()
    roles: tuple[str, ...] = ()
    contents: tuple[str, ...] = ()
    created_at: tuple[float, ...] = ()
    in_context: tuple[bool, ...] = ()
    terms: tuple[bytes | None, ...] = ()


class MessageStore(Protocol):
    """Messages, by ``seq`` per agent."""

    async def append_messages(self, messages: Sequence[Message]) -> list[Message]: ...
    async def update_message(
        self, message_id: str, *, content: str | None = None, interrupted: bool | None = None
    ) -> Message: ...
    async def list_messages(
        self, agent_id: str, *, in_context: bool | None = None, limit: int | None = None,
        after_seq: int | None = None,
    ) -> list[Message]: ...
    async def context_window(self, agent_id: str) -> list[Message]:
        """The agent's in-context messages in ``seq`` order, as its next turn would begin with them: the window this
        store knows at the count of changes the database shows now, with no row read or decoded (``KnownWindows``);
        else read. A check of what the agent said that only needs its recent lines asks this first."""
        ...

    async def evict_messages(self, agent_id: str, *, through_seq: int) -> int: ...
    async def load_message_tail(self, agent_id: str, *, after_seq: int, seen_through: int = 0) -> MessageTail:
        """The agent's user and assistant messages with ``seq > after_seq`` (``MessageTail``), except imported
        ones with ``seq <= seen_through`` (already read: an import never changes); out-of-context rows carry their
        content and terms, rows still in context only their id, seq and flag."""
        ...

    async def append_imports(self, messages: Sequence[Message]) -> list[Message]:
        """``append_messages`` for one agent's imported messages (``kind`` imported), without those an earlier
        import stored (``agent.imports.split_imports``: same role, content and ``created_at``, each earlier row
        standing for one): the check and the insert are one transaction that excludes every other import of the
        agent, in any process on the database. Returns the stored messages, in order."""
        ...

    async def import_messages(
        self, messages: Sequence[Message], *, parts: Callable[[list[Message]], Sequence[HandoffRange]] | None = None,
        now: float = 0.0, keyed: KeyedImport | None = None,
    ) -> tuple[list[Message], list[MemoryJob]]:
        """``append_imports``, and in the same transaction: a pending "import" memory job for each range
        ``parts(run)`` returns, for each run of the earlier imported rows this import matches that no import job
        archived (``agent.imports.unarchived_runs``: imported with ``archive: false``), then for the stored messages
        (``through_seq`` the agent's hand-off watermark, so it moves nothing), and with ``keyed`` the key's first
        response, ``respond(stored, jobs)`` (its claim gone: ``KeyClaimLost``, nothing stored). A process that dies
        inside leaves none of it: no line is stored that no job will archive. Returns the stored messages and the
        jobs, in order."""
        ...

    async def imported_at(self, agent_id: str, said_at: Sequence[float]) -> list[Message]:
        """The agent's imported messages (``kind`` imported) whose ``created_at`` is one of ``said_at``: what an
        import that overlaps an earlier one already stored."""
        ...

    async def search_messages(
        self, agent_id: str, query: str, *, start_at: float | None = None, end_at: float | None = None,
        limit: int = 5,
    ) -> list[MessageHit]: ...
