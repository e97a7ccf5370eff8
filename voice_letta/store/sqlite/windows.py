"""What one SQLite store's thread knows of each agent's in-context window (``HistoryRows``), and how the window is
read when it is not known (``HISTORY_JSON``). Every use runs on the store's connection thread (``begin_turn`` and
``end_turn``'s steps, ``evict_messages``)."""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from operator import attrgetter

from pydantic import TypeAdapter

from voice_letta.agent.models import Message
from voice_letta.store.windows import KnownWindows

# The in-context history in ONE step of SQLite, as one text of JSON rows that pydantic validates (17 % less CPU than
# building each Message from its row: 30 rows 0.13 -> 0.11 ms, docs/benchmarks.md), and Python's sqlite3,
# which gives the GIL up for every row it steps over and must win it back from a busy event loop each time, steps
# once instead of once per row. Values as the row decoder reads them
# (``rows.message_from_row``): created_at travels as '%!.17g' text (SQLite's JSON writes a REAL with 15 digits, which
# cuts a time.time() stamp; 17 round-trip exactly), tool calls and images as the JSON they are stored as.
_FIELDS = {
    "id": "id", "agent_id": "agent_id", "seq": "seq", "role": "role", "content": "content",
    "tool_calls": "json(tool_calls)", "tool_call_id": "tool_call_id", "name": "name", "turn_id": "turn_id",
    "created_at": "printf('%!.17g', created_at)", "interrupted": "interrupted", "in_context": "in_context",
    "kind": "kind", "images": "json(coalesce(nullif(parts, ''), '[]'))",
}
if set(_FIELDS) != set(Message.model_fields):  # a new Message field needs its column here and in rows.py
    raise RuntimeError(f"read_history's fields are not Message's: {sorted(set(_FIELDS) ^ set(Message.model_fields))}")
# One JSON object per row, joined by the ASCII record separator (0x1E), which a JSON text holds only escaped; with the
# count of changes to the window (migration 0018) read in the same statement, so the two agree.
HISTORY_JSON = (
    "SELECT (SELECT messages_version FROM agent_leases WHERE agent_id = ?1), group_concat(json_object("
    + ", ".join(f"'{field}', {sql}" for field, sql in _FIELDS.items())
    + "), char(30)) FROM messages WHERE agent_id = ?1 AND in_context = 1"
)
_SEPARATOR = "\x1e"
HISTORY_AGENTS = 256  # agents whose last history ``HistoryRows`` keeps decoded


class HistoryRows(KnownWindows):
    """What one store's thread knows of each agent's in-context window (``KnownWindows``), and the decoded rows of its
    last read, by the row's JSON text: a window not known is read, and a row whose text (every field of the Message,
    its seq, content, flags and time included) is unchanged is the same Message again, not validated anew (30 rows,
    ~0.1 ms)."""

    def __init__(self, max_agents: int = HISTORY_AGENTS) -> None:
        super().__init__(max_agents)
        self._agents: OrderedDict[str, dict[str, Message]] = OrderedDict()

    def read(self, conn: sqlite3.Connection, agent_id: str) -> list[Message]:
        """The agent's in-context messages in ``seq`` order, read (on the store's thread: ``begin_turn``); the
        window is remembered at the version read with it."""
        ((version, text),) = conn.execute(HISTORY_JSON, (agent_id,)).fetchall()
        known = self._agents.pop(agent_id, None) or {}
        rows: dict[str, Message] = {}
        if text:
            validate = _MESSAGE.validate_json
            for row in text.split(_SEPARATOR):
                message = known.get(row)
                rows[row] = message if message is not None else validate(row)
        self._agents[agent_id] = rows
        if len(self._agents) > self._max_agents:
            self._agents.popitem(last=False)
        history = list(rows.values())
        history.sort(key=attrgetter("seq"))  # group_concat keeps no promised order
        self.remember(agent_id, version, history)
        return history


_MESSAGE: TypeAdapter[Message] = TypeAdapter(Message)
