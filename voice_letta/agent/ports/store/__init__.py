"""The Store port: persistence for agents, memory blocks, messages, passages, tools, turns, memory jobs, the
change log and request idempotency keys, one module per concern. ``Store`` is all of them; adapters
(``voice_letta.store``: SQLite, PostgreSQL) implement it whole, and code that needs one concern may type against
that part.
"""

from __future__ import annotations

from typing import Protocol

from voice_letta.agent.ports.store.agents import AgentStore, NewBlock, ToolStore
from voice_letta.agent.ports.store.changes import Change, ChangeKind, ChangeStore
from voice_letta.agent.ports.store.jobs import HandoffRange, JobKind, JobStatus, JobStore, MemoryJob
from voice_letta.agent.ports.store.messages import MessageHit, MessageStore, MessageTail
from voice_letta.agent.ports.store.passages import CrossVectors, PassageHit, PassageStore, PassageTexts, PassageVectors
from voice_letta.agent.ports.store.request_keys import (
    ClaimOutcome,
    HeldKey,
    KeyClaim,
    KeyClaimLost,
    KeyedImport,
    KeyedPassages,
    RequestKeyStore,
)
from voice_letta.agent.ports.store.turns import BeginCancelled, TurnBegun, TurnStore, is_retry_of, never_completed

__all__ = [
    "AgentStore", "BeginCancelled", "Change", "ChangeKind", "ChangeStore", "ClaimOutcome", "CrossVectors",
    "HandoffRange", "HeldKey", "JobKind", "JobStatus", "JobStore", "KeyClaim", "KeyClaimLost", "KeyedImport",
    "KeyedPassages",
    "MemoryJob", "MessageHit", "MessageStore",
    "MessageTail", "NewBlock", "PassageHit", "PassageStore", "PassageTexts", "PassageVectors", "RequestKeyStore",
    "Store", "ToolStore", "TurnBegun", "TurnStore", "is_retry_of", "never_completed",
]


class Store(AgentStore, ToolStore, MessageStore, PassageStore, JobStore, TurnStore, ChangeStore, RequestKeyStore,
            Protocol):
    """Persistence for agents, memory blocks, messages, passages, tools and turns (SQLite or PostgreSQL).

    Several server processes may share one database: one turn at a time per agent is a lease in the database
    (``begin_turn``/``end_turn``), memory jobs are leased to the worker that runs them.
    """

    async def aclose(self) -> None: ...
