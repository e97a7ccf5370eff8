"""Messages and turn records: ``MessagesMixin`` of ``SqliteStore``.

- ``append_messages`` is one ``INSERT … SELECT`` per batch that assigns each row the next ``seq`` of its
  agent (``_append_sql``); ``update_message`` and ``save_turn`` are one statement each;
- list methods return ``[]`` for an unknown agent (one query on the hot path, no existence check).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from voice_letta.agent.models import Message, TurnRecord
from voice_letta.errors import NotFoundError
from voice_letta.store import rows as R
from voice_letta.store.common import chunked
from voice_letta.store.sqlite.base import MAX_BOUND_VARS, SELECT_MESSAGE, SqliteBase, qualified, values
from voice_letta.store.sqlite.db import translate_errors


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
                "append_messages", _append_sql(len(messages)), _append_params(messages)
            )
        else:
            returned = []
            async with self._write("append_messages") as db:
                for chunk in chunks:
                    returned.extend(await db.execute_fetchall(_append_sql(len(chunk)), _append_params(chunk)))
        seqs: dict[str, int] = {r[0]: r[1] for r in returned}
        return [m.model_copy(update={"seq": seqs[m.id]}) for m in messages]

    async def update_message(
        self, message_id: str, *, content: str | None = None, interrupted: bool | None = None
    ) -> Message:
        """Change a stored message's content and/or interrupted flag (``None`` leaves it as it is)."""
        if content is None and interrupted is None:
            found = await self._fetch("update_message", f"{SELECT_MESSAGE} WHERE id = ?", (message_id,))
        else:
            found = await self._exec_returning(
                "update_message",
                "UPDATE messages SET content = coalesce(?, content), interrupted = coalesce(?, interrupted) "
                f"WHERE id = ? RETURNING {R.MESSAGE_COLUMNS}",
                (content, None if interrupted is None else int(interrupted), message_id),
            )
        if not found:
            raise NotFoundError(f"unknown message {message_id}")
        with translate_errors("decoding a message"):
            return R.message_from_row(found[0])

    async def list_messages(
        self, agent_id: str, *, in_context: bool | None = None, limit: int | None = None,
        after_seq: int | None = None,
    ) -> list[Message]:
        """Messages in ``seq`` order; ``limit`` keeps the most recent ones."""
        where = ["agent_id = ?"]
        params: list[Any] = [agent_id]
        if in_context is not None:
            where.append("in_context = ?")
            params.append(int(in_context))
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

    async def evict_messages(self, agent_id: str, *, through_seq: int) -> int:
        """Mark the agent's messages with ``seq <= through_seq`` out of context; return how many changed."""
        return await self._exec(
            "evict_messages",
            "UPDATE messages SET in_context = 0 WHERE agent_id = ? AND seq <= ? AND in_context = 1",
            (agent_id, through_seq),
        )

    # --- turns ---------------------------------------------------------------------------------------
    async def save_turn(self, turn: TurnRecord) -> None:
        """Insert or replace a turn record (a turn is saved when it starts and again when it ends)."""
        columns = [c.strip() for c in R.TURN_COLUMNS.split(",")]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
        await self._exec(
            "save_turn",
            f"INSERT INTO turns ({R.TURN_COLUMNS}) VALUES ({R.placeholders(R.TURN_COLUMNS)}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates}",
            R.turn_params(turn),
        )

    async def find_turn(self, agent_id: str, fingerprint: str) -> TurnRecord | None:
        """The most recent turn of the agent with this input fingerprint, if any."""
        found = await self._fetch(
            "find_turn",
            f"SELECT {R.TURN_COLUMNS} FROM turns WHERE agent_id = ? AND fingerprint = ? "
            "ORDER BY started_at DESC LIMIT 1",
            (agent_id, fingerprint),
        )
        if not found:
            return None
        with translate_errors("decoding a turn"):
            return R.turn_from_row(found[0])


@functools.lru_cache(maxsize=64)
def _append_sql(rows: int) -> str:
    """Insert ``rows`` messages; ``seq`` = the agent's max seq before the statement + the row's ordinal ``k``.

    ``base`` is materialized once, before any row is inserted, so the rows of one statement do not see
    each other; ``ORDER BY n`` keeps the caller's order.
    """
    cols = R.MESSAGE_INSERT_COLUMNS
    return (
        f"WITH v(n, k, {cols}) AS (VALUES {values(R.column_count(cols) + 2, rows)}), "
        "base(agent_id, seq) AS MATERIALIZED (SELECT agent_id, max(seq) FROM messages "
        "WHERE agent_id IN (SELECT agent_id FROM v) GROUP BY agent_id) "
        f"INSERT INTO messages ({cols}, seq) "
        f"SELECT {qualified(cols, 'v')}, coalesce(base.seq, 0) + v.k "
        "FROM v LEFT JOIN base ON base.agent_id = v.agent_id ORDER BY v.n "
        "RETURNING id, seq"
    )


def _append_params(messages: Sequence[Message]) -> list[Any]:
    ordinal: dict[str, int] = {}
    params: list[Any] = []
    for n, m in enumerate(messages):
        k = ordinal[m.agent_id] = ordinal.get(m.agent_id, 0) + 1
        params.append(n)
        params.append(k)
        params.extend(R.message_insert_params(m))
    return params
