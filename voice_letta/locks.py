"""``KeyedLocks``: one ``asyncio.Lock`` per key (an agent id, a caller), kept only while in use.

A ``defaultdict(asyncio.Lock)`` keeps a lock for every key it ever saw; with one agent per caller that grows for
as long as the server runs. Here the map holds its locks weakly: a lock lives while a task holds it or waits for
it (their ``async with`` keeps it), and the next use of the key gets a new one.

    locks = KeyedLocks()
    async with locks(agent_id):
        ...
"""

from __future__ import annotations

import asyncio
import weakref


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def __call__(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def __len__(self) -> int:
        return len(self._locks)
