"""The store contract for messages (the agent's conversation history)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from voice_letta.agent.models import Message


@dataclass(frozen=True, slots=True)
class MessageHit:
    message: Message
    score: float  # higher is better


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
    async def evict_messages(self, agent_id: str, *, through_seq: int) -> int: ...
    async def search_messages(
        self, agent_id: str, query: str, *, start_at: float | None = None, end_at: float | None = None,
        exclude_in_context: bool = True, limit: int = 5,
    ) -> list[MessageHit]: ...
