"""In-process publish/subscribe of memory changes, so live sessions can tell their clients."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass

from voice_letta.agent.models import Block


@dataclass(frozen=True, slots=True)
class MemoryUpdated:
    agent_id: str
    blocks: tuple[Block, ...]  # the agent's blocks after the change
    passages_added: int = 0
    reason: str = "sleeptime"  # "sleeptime" | "rest" (a block or archival edit through the REST API) | "import"
    passages_removed: int = 0


class MemoryBus:
    """Subscribers get a bounded queue per agent; a slow subscriber loses old events, never blocks publishers."""

    def __init__(self, max_queued: int = 16) -> None:
        self._subs: defaultdict[str, set[asyncio.Queue[MemoryUpdated]]] = defaultdict(set)
        self._max = max_queued

    def subscribe(self, agent_id: str) -> asyncio.Queue[MemoryUpdated]:
        queue: asyncio.Queue[MemoryUpdated] = asyncio.Queue(self._max)
        self._subs[agent_id].add(queue)
        return queue

    def unsubscribe(self, agent_id: str, queue: asyncio.Queue[MemoryUpdated]) -> None:
        self._subs[agent_id].discard(queue)
        if not self._subs[agent_id]:
            del self._subs[agent_id]

    def publish(self, event: MemoryUpdated) -> None:
        for queue in list(self._subs.get(event.agent_id, ())):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)
