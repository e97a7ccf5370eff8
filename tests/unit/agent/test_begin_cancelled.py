"""A ``begin_turn`` cut by a cancellation reaches the caller as a plain ``CancelledError``.

Python 3.11's ``asyncio.TaskGroup`` tells a cancellation by its exact type: the store's ``BeginCancelled`` subclass
raised inside a task group's body became an ExceptionGroup, which ended a Realtime session whose response the next
utterance cut while its input was being stored (found by the clean-clone CI, session 11).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from voice_letta.agent.ports import BeginCancelled
from voice_letta.agent.turn_persist import TurnPersistence


class _CutStore:
    """A store whose ``begin_turn`` was cancelled after its transaction found the lease busy (``begun`` None)."""

    begin_turn_survives_cancel = True

    async def begin_turn(self, *args: Any, **kwargs: Any) -> Any:
        raise BeginCancelled(None)


def _persistence() -> TurnPersistence:
    persist = TurnPersistence.__new__(TurnPersistence)  # the mixin's attributes are all _begin_once reads
    persist.store = _CutStore()  # type: ignore[assignment]
    persist.holder = "h"
    persist.lease_s = 5.0
    persist.clock = time.time
    persist.started_at = time.time()
    return persist


async def test_a_cut_begin_turn_is_a_plain_cancellation_inside_a_task_group() -> None:
    persist = _persistence()

    async def respond() -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(asyncio.sleep(10))
            await persist._begin_once(object(), [], False)  # type: ignore[arg-type]

    task = asyncio.create_task(respond())
    with pytest.raises(asyncio.CancelledError) as caught:
        await task
    assert type(caught.value) is asyncio.CancelledError and task.cancelled()
