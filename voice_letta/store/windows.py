"""``KnownWindows``: each agent's in-context window as this store last saw it, at the count of changes to that window
which the database keeps per agent (``messages_version``: SQLite migration 0018, PostgreSQL 0014).

Every insert, update or delete of a message that is, or was, in the context adds one to the count, whoever writes
it (triggers), so a window known at the count the database shows now is the window now, and a turn's begin takes it
instead of reading it back: the read and its decoding were a third of the SQL of a turn on SQLite's thread and ~0.25
ms of Python per turn with a 30-row window (docs/benchmarks.md). The least recently used agents beyond
``max_agents`` are forgotten. The Messages are shared with the turns that got them: nothing changes a Message in
place (``model_copy`` makes a changed one), and every window handed out is a new list.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

from voice_letta.agent.models import Message

KNOWN_AGENTS = 256


class KnownWindows:
    def __init__(self, max_agents: int = KNOWN_AGENTS) -> None:
        self._max_agents = max_agents
        self._windows: OrderedDict[str, tuple[int, tuple[Message, ...]]] = OrderedDict()

    def version(self, agent_id: str) -> int | None:
        """The count at which the agent's window is known, if it is."""
        found = self._windows.get(agent_id)
        return None if found is None else found[0]

    def window(self, agent_id: str) -> tuple[Message, ...] | None:
        found = self._windows.get(agent_id)
        return None if found is None else found[1]

    def known(self, agent_id: str, version: int) -> tuple[Message, ...] | None:
        """The agent's window if it is known at ``version``."""
        found = self._windows.get(agent_id)
        return found[1] if found is not None and found[0] == version else None

    def remember(self, agent_id: str, version: int | None, window: Sequence[Message]) -> None:
        """The agent's window is ``window`` while its count is ``version`` (None: not known)."""
        if version is None:
            self._windows.pop(agent_id, None)
            return
        self._windows[agent_id] = (version, tuple(window))
        self._windows.move_to_end(agent_id)
        if len(self._windows) > self._max_agents:
            self._windows.popitem(last=False)

    def advance(self, agent_id: str, now: int | None, changes: int,
                change: Callable[[tuple[Message, ...]], list[Message]]) -> None:
        """This store changed ``changes`` rows of the agent's window, after which its count was ``now`` (None: not
        known). The known window, as ``change`` makes it, stays known when nothing else changed the window since (the
        count grew by ``changes`` alone); else it is forgotten and the next turn reads it."""
        found = self._windows.get(agent_id)
        if found is not None and now is not None and now == found[0] + changes:
            self.remember(agent_id, now, change(found[1]))
        else:
            self._windows.pop(agent_id, None)
