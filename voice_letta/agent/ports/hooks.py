"""Memory layer hooks (the sleeptime agent implements these)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from voice_letta.agent.models import Message


class MemoryHooks(Protocol):
    """Called by the voice path; implementations must return quickly and do their work in the background."""

    async def turn_completed(self, agent_id: str, window: Sequence[Message] | None = None) -> None:
        """A turn ended; ``window``, when given, is the agent's in-context messages right after it (the voice loop
        knows them, so the memory layer need not read them back). An implementation may also offer
        ``upkeep_due(agent, window) -> bool``: when it says False, the voice loop does not call this at all."""
        ...

    async def session_ended(self, agent_id: str) -> None: ...
