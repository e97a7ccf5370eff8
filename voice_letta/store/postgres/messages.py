"""Messages, turn records and the agent lease on PostgreSQL: ``MessagesMixin`` of ``PostgresStore``.

A message's ``seq`` comes from the agent's row in ``message_seq``: the upsert that reserves a batch's numbers
locks that row until the transaction ends, so concurrent appends of one agent (from any process) get disjoint,
gapless ranges in commit order. The turn and lease methods follow ``store/sqlite/turns.py``; ``begin_turn`` and
``end_turn``, the two writes of every turn, are server-side functions (``vl_begin_turn`` / ``vl_end_turn``,
migration 0005) so each is one round trip instead of 6–8 (BEGIN, every statement, COMMIT), with their rows sent
as JSON.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson

from voice_letta import config as C
from voice_letta.agent.models import Message, TurnRecord
from voice_letta.agent.ports import MessageTail, TurnBegun
from voice_letta.errors import NotFoundError
from voice_letta.store import rows as R
from voice_letta.store.common import MESSAGE_TAIL_SQL, message_tail
from voice_letta.store.postgres.base import PgBase, params, rowcount
from voice_letta.store.postgres.db import translate_errors

_SELECT_MESSAGE = f"SELECT {R.MESSAGE_COLUMNS} FROM messages"
_INSERT_MESSAGE = (
    f"INSERT INTO messages ({R.MESSAGE_INSERT_COLUMNS}, seq) "
    f"VALUES ({params(R.MESSAGE_INSERT_COLUMNS)}, ${R.column_count(R.MESSAGE_INSERT_COLUMNS) + 1})"
)
_RESERVE = (
    "INSERT INTO message_seq (agent_id, last_seq) VALUES ($1, $2) ON CONFLICT (agent_id) "
    "DO UPDATE SET last_seq = message_seq.last_seq + $2 RETURNING last_seq"
)
_TURN_COLUMNS = [c.strip() for c in R.TURN_COLUMNS.split(",")]
_SAVE_TURN = (
    f"INSERT INTO turns ({R.TURN_COLUMNS}) VALUES ({params(R.TURN_COLUMNS)}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _TURN_COLUMNS[1:])}"
)
_SELECT_TURN = f"SELECT {R.TURN_COLUMNS} FROM turns"
_BEGIN_TURN = "SELECT * FROM vl_begin_turn($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
_END_TURN = "SELECT * FROM vl_end_turn_counted($1, $2, $3, $4, $5)"
_MESSAGE_INSERT_COLUMNS = [c.strip() for c in R.MESSAGE_INSERT_COLUMNS.split(",")]
_VERSION = "SELECT messages_version FROM message_seq WHERE agent_id = $1"
_EVICT = "SELECT * FROM vl_evict($1, $2)"
_RELEASE = "UPDATE agent_leases SET busy = 0 WHERE agent_id = $1 AND holder = $2 AND token = $3 AND busy = 1"


async def append_rows(db: asyncpg.Connection, messages: Sequence[Message]) -> list[Message]:
    """Append inside the caller's transaction: reserve each agent's seq range, then insert in order."""
    base: dict[str, int] = {}
    for agent_id, n in Counter(m.agent_id for m in messages).items():
        base[agent_id] = int(await db.fetchval(_RESERVE, agent_id, n)) - n
    stored: list[Message] = []
    for m in messages:
        base[m.agent_id] += 1
        stored.append(R.stored_message(m, base[m.agent_id]))
    await db.executemany(_INSERT_MESSAGE, [(*R.message_insert_params(m), m.seq) for m in stored])
    return stored


def rows_json(agent_id: str, messages: Sequence[Message]) -> str:
    """Input or reply rows for ``vl_begin_turn`` / ``vl_end_turn``: a JSON array of MESSAGE_INSERT_COLUMNS objects
    (keyword terms as bytea hex). All rows are the agent's: the functions number them from its seq counter."""
    out = []
    for m in messages:
        if m.agent_id != agent_id:
            raise ValueError(f"a turn of agent {agent_id} cannot store a message of agent {m.agent_id}")
        row = dict(zip(_MESSAGE_INSERT_COLUMNS, R.message_insert_params(m), strict=True))
        terms = row["terms"]
        row["terms"] = None if terms is None else "\\x" + terms.hex()
        out.append(row)
    return orjson.dumps(out).decode()


def turn_json(turn: TurnRecord) -> str:
    return orjson.dumps(dict(zip(_TURN_COLUMNS, R.turn_params(turn), strict=True))).decode()


def turn_from_json(text: str) -> TurnRecord:
    row = orjson.loads(text)
    return R.turn_from_row([row[c] for c in _TURN_COLUMNS])


def with_seqs(messages: Sequence[Message], last_seq: int | None) -> list[Message]:
    """The rows as stored: numbered ``last_seq - len + 1 … last_seq`` in order."""
    if last_seq is None or not messages:
        return []
    base = int(last_seq) - len(messages)
    return [R.stored_message(m, base + i) for i, m in enumerate(messages, 1)]


class MessagesMixin(PgBase):
    # --- messages ------------------------------------------------------------------------------------
    async def append_messages(self, messages: Sequence[Message]) -> list[Message]:
        if not messages:
            return []
        async with self._tx("append_messages") as db:
            return await append_rows(db, messages)

    async def update_message(
        self, message_id: str, *, content: str | None = None, interrupted: bool | None = None
    ) -> Message:
        content = R.text_param(content)
        if content is None and interrupted is None:
            found = await self._fetch("update_message", f"{_SELECT_MESSAGE} WHERE id = $1", message_id)
        else:
            found = await self._fetch(
                "update_message",
                "UPDATE messages SET content = coalesce($1, content), interrupted = coalesce($2, interrupted), "
                f"terms = {R.UPDATED_TERMS.format(content='$1::text', terms='$4::bytea')} "
                f"WHERE id = $3 RETURNING {R.MESSAGE_COLUMNS}",
                content, None if interrupted is None else int(interrupted), message_id,
                R.message_terms("user", content))
        if not found:
            raise NotFoundError(f"unknown message {message_id}")
        with translate_errors("decoding a message"):
            return R.message_from_row(found[0])

    async def imported_at(self, agent_id: str, said_at: Sequence[float]) -> list[Message]:
        """The agent's imported messages said at one of ``said_at`` (the partial index of migration 0017)."""
        found = await self._fetch(
            "imported_at", f"{_SELECT_MESSAGE} WHERE agent_id = $1 AND kind = 'imported' "
            "AND created_at = ANY($2::double precision[]) ORDER BY seq", agent_id, sorted(set(said_at)))
        with translate_errors("decoding messages"):
            return [R.message_from_row(r) for r in found]

    async def list_messages(
        self, agent_id: str, *, in_context: bool | None = None, limit: int | None = None,
        after_seq: int | None = None,
    ) -> list[Message]:
        where = ["agent_id = $1"]
        args: list[Any] = [agent_id]
        if in_context is not None:  # a literal: a prepared statement's generic plan can use the partial index (0009)
            where.append(f"in_context = {int(in_context)}")
        if after_seq is not None:
            args.append(after_seq)
            where.append(f"seq > ${len(args)}")
        sql = f"{_SELECT_MESSAGE} WHERE {' AND '.join(where)}"
        if limit is None:
            found = await self._fetch("list_messages", sql + " ORDER BY seq", *args)
        else:
            if limit <= 0:
                return []
            found = await self._fetch("list_messages", sql + f" ORDER BY seq DESC LIMIT ${len(args) + 1}", *args,
                                      limit)
            found.reverse()
        with translate_errors("decoding messages"):
            return [R.message_from_row(r) for r in found]

    async def context_window(self, agent_id: str) -> list[Message]:
        """The window this process knows when the agent's count of window changes is still the one it was known at
        (one indexed read of one value, no message row); else the in-context rows, read."""
        windows = self._windows
        version, window = windows.version(agent_id), windows.window(agent_id)  # as checked: the entry may change
        if version is not None and window is not None:
            found = await self._fetch("context_window", _VERSION, agent_id)
            if found and int(found[0][0]) == version:
                return list(window)
        return await self.list_messages(agent_id, in_context=True)

    async def evict_messages(self, agent_id: str, *, through_seq: int) -> int:
        """One round trip (``vl_evict``, migration 0015) that also says the agent's count of window changes after
        it: a window this process knows stays known without the evicted rows when nothing else changed it (the next
        turn does not read it back, as on SQLite)."""
        found = await self._fetch("evict_messages", _EVICT, agent_id, through_seq)
        evicted = int(found[0][0])
        self._evicted(agent_id, through_seq, evicted, found[0][1])
        return evicted

    async def load_message_tail(self, agent_id: str, *, after_seq: int, seen_through: int = 0) -> MessageTail:
        found = await self._fetch("load_message_tail", MESSAGE_TAIL_SQL.format(agent="$1", after="$2", seen="$3"),
                                  agent_id, after_seq, seen_through)
        return message_tail(found)

    # --- turns ---------------------------------------------------------------------------------------
    async def save_turn(self, turn: TurnRecord) -> None:
        await self._exec("save_turn", _SAVE_TURN, *R.turn_params(turn))

    async def find_turn(self, agent_id: str, fingerprint: str) -> TurnRecord | None:
        found = await self._fetch("find_turn", f"{_SELECT_TURN} WHERE agent_id = $1 AND fingerprint = $2 "
                                  "ORDER BY started_at DESC LIMIT 1", agent_id, fingerprint)
        with translate_errors("decoding a turn"):
            return R.turn_from_row(found[0]) if found else None

    async def begin_turn(
        self, turn: TurnRecord, rows: Sequence[Message], *, holder: str, lease_s: float, now: float,
        replay_window_s: float = C.REPLAY_WINDOW_S, retry_window_s: float = C.RETRY_WINDOW_S,
        key_ttl_s: float = C.IDEMPOTENCY_KEY_TTL_S, supersede_abandoned: bool = False,
        supersede_window_s: float = C.SUPERSEDE_WINDOW_S,
    ) -> TurnBegun | None:
        """One round trip: the server-side function ``vl_begin_turn`` (migration 0005, re-created in 0007, 0008 and
        0014) runs the whole transaction. A window this process knows (``KnownWindows``) at the count the agent's
        messages show is not sent back (``window_known``): it is that window plus this turn's input."""
        agent_id = turn.agent_id
        windows = self._windows
        version, window = windows.version(agent_id), windows.window(agent_id)  # as sent: the entry may change meanwhile
        found = await self._fetch(
            "begin_turn", _BEGIN_TURN, agent_id, holder, float(now), float(lease_s), turn.idempotency_key,
            float(key_ttl_s), turn.fingerprint, float(replay_window_s), float(retry_window_s), supersede_abandoned,
            float(supersede_window_s), turn_json(turn), rows_json(agent_id, rows), version)
        if not found:
            return None
        head = found[0]
        with translate_errors("decoding a turn"):
            previous = None if head[15] is None else turn_from_json(head[15])
            inserted = with_seqs(rows, head[16])
            if head[18] and window is not None:  # the count was still the one sent: the window is the known one
                history = [*window, *(m for m in inserted if m.in_context)]
            else:
                history = [R.message_from_row(r) for r in found if r[0] is not None]
            windows.remember(agent_id, None if head[17] is None else int(head[17]), history)
            return TurnBegun(lease=int(head[14]), previous=previous, inserted=inserted, history=history)

    async def end_turn(
        self, agent_id: str, turn: TurnRecord | None, rows: Sequence[Message], *, holder: str, lease: int
    ) -> list[Message]:
        """One round trip: the server-side function ``vl_end_turn_counted`` (migration 0014)."""
        found = await self._fetch("end_turn", _END_TURN, agent_id, holder, lease,
                                  None if turn is None else turn_json(turn), rows_json(agent_id, rows))
        stored = with_seqs(rows, found[0][0])
        joined = [m for m in stored if m.in_context]
        now = found[0][1]
        self._windows.advance(agent_id, None if now is None else int(now), len(joined),
                              lambda window: [*window, *joined])
        return stored

    async def list_turns(self, agent_id: str, *, limit: int = 50, status: str | None = None) -> list[TurnRecord]:
        if status is None:
            found = await self._fetch("list_turns", f"{_SELECT_TURN} WHERE agent_id = $1 "
                                      "ORDER BY started_at DESC, pos DESC LIMIT $2", agent_id, limit)
        else:
            found = await self._fetch("list_turns", f"{_SELECT_TURN} WHERE agent_id = $1 AND status = $2 "
                                      "ORDER BY started_at DESC, pos DESC LIMIT $3", agent_id, status, limit)
        with translate_errors("decoding turns"):
            return [R.turn_from_row(r) for r in reversed(found)]

    async def busy_lease_holders(self) -> list[str]:
        found = await self._fetch("busy_lease_holders", "SELECT DISTINCT holder FROM agent_leases WHERE busy = 1")
        return [str(r[0]) for r in found]

    async def mark_unfinished_turns(self, *, now: float) -> int:
        return await self._exec(
            "mark_unfinished_turns",
            "UPDATE turns SET status = 'incomplete', stop_reason = coalesce(stop_reason, 'server_stopped'), "
            "error = coalesce(error, 'server_stopped'), ended_at = coalesce(ended_at, $1) "
            "WHERE status = 'running' AND NOT EXISTS (SELECT 1 FROM agent_leases l WHERE l.agent_id = turns.agent_id "
            "AND l.busy = 1 AND l.expires_at >= $1)", now)

    async def release_agent(self, agent_id: str, *, holder: str, lease: int) -> None:
        await self._exec("release_agent", _RELEASE, agent_id, holder, lease)

    async def renew_leases(self, holder: str, *, until: float) -> int:
        async with self._tx("renew_leases") as db:
            agents = await db.execute("UPDATE agent_leases SET expires_at = $1 WHERE holder = $2 AND busy = 1",
                                      until, holder)
            jobs = await db.execute("UPDATE memory_jobs SET lease_until = $1 WHERE claimed_by = $2 "
                                    "AND status = 'running'", until, holder)
        return rowcount(agents) + rowcount(jobs)

    async def release_holder(self, holder: str, *, now: float) -> int:
        async with self._tx("release_holder") as db:
            agents = await db.execute("UPDATE agent_leases SET busy = 0 WHERE holder = $1 AND busy = 1", holder)
            await db.execute("UPDATE agent_leases SET holder = '' WHERE holder = $1", holder)
            jobs = await db.execute("UPDATE memory_jobs SET lease_until = $1 WHERE claimed_by = $2 "
                                    "AND status = 'running'", now, holder)
        return rowcount(agents) + rowcount(jobs)

