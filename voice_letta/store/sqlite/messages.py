"""Messages: ``MessagesMixin`` of ``SqliteStore``.

- ``append_messages`` is one ``INSERT … SELECT`` per batch that assigns each row the next ``seq`` of its
  agent (``append_sql``); ``update_message`` is one statement;
- list methods return ``[]`` for an unknown agent (one query on the hot path, no existence check).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from typing import Any

from voice_letta.agent.models import Message
from voice_letta.agent.ports import MessageTail
from voice_letta.errors import NotFoundError
from voice_letta.store import rows as R
from voice_letta.store.common import MESSAGE_TAIL_SQL, chunked, message_tail
from voice_letta.store.sqlite.base import MAX_BOUND_VARS, SELECT_MESSAGE, SqliteBase, qualified, values
from voice_letta.store.sqlite.db import translate_errors
from voice_letta.store.windows import KnownWindows

_EVICT = "UPDATE messages SET in_context = 0 WHERE agent_id = ? AND seq <= ? AND in_context = 1"
_VERSION = "SELECT messages_version FROM agent_leases WHERE agent_id = ?"


class MessagesMixin(SqliteBase):
    # --- messages ------------------------------------------------------------------------------------
    async def append_messages(self, messages: Sequence[Message]) -> list[Message]:
        """Store messages in order, giving each the next ``seq`` of its agent.

        One ``INSERT … SELECT`` per batch reads each agent's current maximum ``seq`` and inserts the rows
        after it, atomically and in one thread hop.
        """
        if not messages:
            return []
        chunks = list(chunked(messages, MAX_BOUND_VARS // (R.column_count(R.MESSAGE_INSERT_COLUMNS) + 2)))
        if len(chunks) == 1:
            returned = await self._exec_returning(
                "append_messages", append_sql(len(messages)), append_params(messages)
            )
        else:
            returned = []
            async with self._write("append_messages") as db:
                for chunk in chunks:
                    returned.extend(await db.execute_fetchall(append_sql(len(chunk)), append_params(chunk)))
        seqs: dict[str, int] = {r[0]: r[1] for r in returned}
        return [R.stored_message(m, seqs[m.id]) for m in messages]

    async def update_message(
        self, message_id: str, *, content: str | None = None, interrupted: bool | None = None
    ) -> Message:
        """Change a stored message's content and/or interrupted flag (``None`` leaves it as it is)."""
        content = R.text_param(content)
        if content is None and interrupted is None:
            found = await self._fetch("update_message", f"{SELECT_MESSAGE} WHERE id = ?", (message_id,))
        else:
            found = await self._exec_returning(
                "update_message",
                "UPDATE messages SET content = coalesce(?1, content), interrupted = coalesce(?2, interrupted), "
                f"terms = {R.UPDATED_TERMS.format(content='?1', terms='?4')} "
                f"WHERE id = ?3 RETURNING {R.MESSAGE_COLUMNS}",
                (content, None if interrupted is None else int(interrupted), message_id,
                 R.message_terms("user", content)),
            )
        if not found:
            raise NotFoundError(f"unknown message {message_id}")
        with translate_errors("decoding a message"):
            return R.message_from_row(found[0])

    async def imported_at(self, agent_id: str, said_at: Sequence[float]) -> list[Message]:
        """The agent's imported messages said at one of ``said_at`` (the partial index of migration 0022)."""
        times = sorted(set(said_at))
        found: list[R.Row] = []
        for chunk in chunked(times, MAX_BOUND_VARS - 1):
            found += await self._fetch(
                "imported_at", f"{SELECT_MESSAGE} WHERE agent_id = ? AND kind = 'imported' "
                f"AND created_at IN ({', '.join('?' * len(chunk))}) ORDER BY seq", [agent_id, *chunk])
        with translate_errors("decoding messages"):
            return [R.message_from_row(r) for r in found]

    async def list_messages(
        self, agent_id: str, *, in_context: bool | None = None, limit: int | None = None,
        after_seq: int | None = None,
    ) -> list[Message]:
        """Messages in ``seq`` order; ``limit`` keeps the most recent ones."""
        where = ["agent_id = ?"]
        params: list[Any] = [agent_id]
        if in_context is not None:  # a literal, so the in-context window is read through its own index (0013)
            where.append(f"in_context = {int(in_context)}")
        if after_seq is not None:
            where.append("seq > ?")
            params.append(after_seq)
        sql = f"{SELECT_MESSAGE} WHERE {' AND '.join(where)}"
        if limit is None:
            found = await self._fetch("list_messages", sql + " ORDER BY seq", params)
        else:
            if limit <= 0:
                return []
            found = await self._fetch("list_messages", sql + " ORDER BY seq DESC LIMIT ?", [*params, limit])
            found.reverse()
        with translate_errors("decoding messages"):
            return [R.message_from_row(r) for r in found]

    async def context_window(self, agent_id: str) -> list[Message]:
        """One thread hop: the agent's count of window changes, and the window ``HistoryRows`` knows at it (no row
        read); else the window read and known from then on (as ``begin_turn`` would read it)."""
        windows = self._windows

        def run() -> list[Message]:
            conn = self._db._conn
            found = conn.execute(_VERSION, (agent_id,)).fetchall()
            known = windows.known(agent_id, int(found[0][0])) if found else None
            return list(known) if known is not None else windows.read(conn, agent_id)

        with translate_errors("context_window"):
            window: list[Message] = await self._db._execute(run)  # type: ignore[no-untyped-call]
            return window

    async def evict_messages(self, agent_id: str, *, through_seq: int) -> int:
        """Mark the agent's messages with ``seq <= through_seq`` out of context; return how many changed.

        A window this process knows (``HistoryRows``) stays known without them when the agent's count of window
        changes grew by the evicted rows alone (both statements under the write gate, in one thread hop), so the
        next turn after an eviction does not read its window back either."""
        windows = self._windows
        gate = self._gate

        def run() -> int:
            conn = self._db._conn
            gate.acquire()
            try:
                evicted, now = evict(conn, agent_id, through_seq)
            finally:
                gate.release()
            evicted_from(windows, agent_id, through_seq, evicted, now)
            return evicted

        async with self._locked("evict_messages"):
            count: int = await self._db._execute(run)  # type: ignore[no-untyped-call]
            return count

    async def load_message_tail(self, agent_id: str, *, after_seq: int, seen_through: int = 0) -> MessageTail:
        found = await self._fetch("load_message_tail", MESSAGE_TAIL_SQL.format(agent="?", after="?", seen="?"),
                                  (agent_id, after_seq, seen_through))
        return message_tail(found)


def evict(conn: sqlite3.Connection, agent_id: str, through_seq: int) -> tuple[int, int | None]:
    """Evict ``seq <= through_seq`` (on the store's thread, under the write gate): how many rows left the window, and
    the agent's ``messages_version`` right after (None when none did or it has no lease row)."""
    evicted = int(conn.execute(_EVICT, (agent_id, through_seq)).rowcount)
    now = conn.execute(_VERSION, (agent_id,)).fetchall() if evicted else []
    return evicted, int(now[0][0]) if now else None


def evicted_from(windows: KnownWindows, agent_id: str, through_seq: int, evicted: int, now: int | None) -> None:
    """After ``evict`` committed: the known window without the evicted rows, if nothing else changed it."""
    if evicted:
        windows.advance(agent_id, now, evicted, lambda window: [m for m in window if m.seq > through_seq])


@functools.lru_cache(maxsize=64)
def append_sql(rows: int) -> str:
    """Insert ``rows`` messages; ``seq`` = the agent's max seq before the statement + the row's ordinal ``k``.

    ``base`` is materialized once, before any row is inserted, so the rows of one statement do not see
    each other; ``ORDER BY n`` keeps the caller's order.
    """
    cols = R.MESSAGE_INSERT_COLUMNS
    if rows == 1:
        # The common case (a turn's user message, its reply): the same parameters (n, k, columns), without the
        # CTE's materialized VALUES, GROUP BY, join and sort; the agent's max seq is one probe of messages_agent_seq.
        names = [c.strip() for c in cols.split(",")]
        agent = 3 + names.index("agent_id")
        placeholders = ", ".join(f"?{i}" for i in range(3, 3 + len(names)))
        return (
            f"INSERT INTO messages ({cols}, seq) VALUES ({placeholders}, "
            f"coalesce((SELECT max(seq) FROM messages WHERE agent_id = ?{agent}), 0) + ?2) RETURNING id, seq"
        )
    return (
        f"WITH v(n, k, {cols}) AS (VALUES {values(R.column_count(cols) + 2, rows)}), "
        "base(agent_id, seq) AS MATERIALIZED (SELECT agent_id, max(seq) FROM messages "
        "WHERE agent_id IN (SELECT agent_id FROM v) GROUP BY agent_id) "
        f"INSERT INTO messages ({cols}, seq) "
        f"SELECT {qualified(cols, 'v')}, coalesce(base.seq, 0) + v.k "
        "FROM v LEFT JOIN base ON base.agent_id = v.agent_id ORDER BY v.n "
        "RETURNING id, seq"
    )


# One row without RETURNING (a turn's input, its reply: store/sqlite/turns.py), its seq read back by rowid; the
# parameters are ``append_params``' (its id at ``APPEND_ONE_ID``).
APPEND_ONE = append_sql(1).removesuffix(" RETURNING id, seq")
APPEND_ONE_ID = 2 + [c.strip() for c in R.MESSAGE_INSERT_COLUMNS.split(",")].index("id")
SEQ_OF_ROW = "SELECT seq FROM messages WHERE rowid = ?"


def append_params(messages: Sequence[Message]) -> list[Any]:
    ordinal: dict[str, int] = {}
    params: list[Any] = []
    for n, m in enumerate(messages):
        k = ordinal[m.agent_id] = ordinal.get(m.agent_id, 0) + 1
        params.append(n)
        params.append(k)
        params.extend(R.message_insert_params(m))
    return params
