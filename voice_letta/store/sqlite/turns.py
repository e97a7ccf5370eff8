"""Turn records and the agent lease: ``TurnsMixin`` of ``SqliteStore`` (migration 0004 for the lease).

A turn costs two transactions, each one thread hop: ``begin_turn`` takes the agent's lease, looks the
fingerprint up, stores the turn record with the input rows (so a retry after a crash finds the turn and does
not store the input again) and reads the in-context history; ``end_turn`` stores the reply rows and the final
turn record and gives the lease back. The lease is a row per agent (``agent_leases``): ``busy`` while a turn
runs, free again when given back or when ``expires_at`` passes (its holder died without giving it back; a live
holder renews it with ``renew_leases``). ``token`` grows by one per acquisition, so a holder whose lease expired
and was taken over cannot release the new holder's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from voice_letta.agent.models import Message, TurnRecord
from voice_letta.agent.ports import TurnBegun
from voice_letta.store import rows as R
from voice_letta.store.common import chunked
from voice_letta.store.sqlite.base import MAX_BOUND_VARS, SELECT_MESSAGE, SqliteBase
from voice_letta.store.sqlite.db import translate_errors
from voice_letta.store.sqlite.messages import append_params, append_sql

_TURN_COLUMNS = [c.strip() for c in R.TURN_COLUMNS.split(",")]
_SAVE_TURN = (
    f"INSERT INTO turns ({R.TURN_COLUMNS}) VALUES ({R.placeholders(R.TURN_COLUMNS)}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _TURN_COLUMNS[1:])}"
)
_FIND_TURN = (
    f"SELECT {R.TURN_COLUMNS} FROM turns WHERE agent_id = ? AND fingerprint = ? ORDER BY started_at DESC LIMIT 1"
)
_ACQUIRE = (
    "INSERT INTO agent_leases (agent_id, holder, token, busy, expires_at) VALUES (?1, ?2, 1, 1, ?4) "
    "ON CONFLICT (agent_id) DO UPDATE SET holder = ?2, token = token + 1, busy = 1, expires_at = ?4 "
    "WHERE busy = 0 OR expires_at < ?3 RETURNING token"
)
_RELEASE = "UPDATE agent_leases SET busy = 0 WHERE agent_id = ? AND holder = ? AND token = ? AND busy = 1"
_HISTORY = f"{SELECT_MESSAGE} WHERE agent_id = ? AND in_context = 1 ORDER BY seq"
_PER_STATEMENT = MAX_BOUND_VARS // (R.column_count(R.MESSAGE_INSERT_COLUMNS) + 2)


def _append(conn: sqlite3.Connection, rows: Sequence[Message]) -> list[Message]:
    seqs: dict[str, int] = {}
    for chunk in chunked(rows, _PER_STATEMENT):
        seqs.update((r[0], r[1]) for r in conn.execute(append_sql(len(chunk)), append_params(chunk)).fetchall())
    return [m.model_copy(update={"seq": seqs[m.id]}) for m in rows]


class TurnsMixin(SqliteBase):
    async def save_turn(self, turn: TurnRecord) -> None:
        """Insert or replace a turn record."""
        await self._exec("save_turn", _SAVE_TURN, R.turn_params(turn))

    async def find_turn(self, agent_id: str, fingerprint: str) -> TurnRecord | None:
        """The most recent turn of the agent with this input fingerprint, if any."""
        found = await self._fetch("find_turn", _FIND_TURN, (agent_id, fingerprint))
        if not found:
            return None
        with translate_errors("decoding a turn"):
            return R.turn_from_row(found[0])

    async def begin_turn(
        self, turn: TurnRecord, rows: Sequence[Message], *, holder: str, lease_s: float, now: float
    ) -> TurnBegun | None:
        agent_id = turn.agent_id

        def work(conn: sqlite3.Connection) -> TurnBegun | None:
            got = conn.execute(_ACQUIRE, (agent_id, holder, now, now + lease_s)).fetchall()
            if not got:
                return None
            previous = None
            if turn.fingerprint is not None:
                found = conn.execute(_FIND_TURN, (agent_id, turn.fingerprint)).fetchall()
                previous = R.turn_from_row(found[0]) if found else None
            inserted: list[Message] = []
            if previous is None:
                conn.execute(_SAVE_TURN, R.turn_params(turn))
                inserted = _append(conn, rows)
            history = [R.message_from_row(r) for r in conn.execute(_HISTORY, (agent_id,)).fetchall()]
            return TurnBegun(lease=int(got[0][0]), previous=previous, inserted=inserted, history=history)

        return await self._transaction("begin_turn", work)

    async def end_turn(
        self, agent_id: str, turn: TurnRecord | None, rows: Sequence[Message], *, holder: str, lease: int
    ) -> list[Message]:
        def work(conn: sqlite3.Connection) -> list[Message]:
            stored = _append(conn, rows) if rows else []
            if turn is not None:
                conn.execute(_SAVE_TURN, R.turn_params(turn))
            conn.execute(_RELEASE, (agent_id, holder, lease))
            return stored

        return await self._transaction("end_turn", work)

    async def release_agent(self, agent_id: str, *, holder: str, lease: int) -> None:
        await self._exec("release_agent", _RELEASE, (agent_id, holder, lease))

    async def renew_leases(self, holder: str, *, until: float) -> int:
        def work(conn: sqlite3.Connection) -> int:
            agents = conn.execute(
                "UPDATE agent_leases SET expires_at = ? WHERE holder = ? AND busy = 1", (until, holder)).rowcount
            jobs = conn.execute(
                "UPDATE memory_jobs SET lease_until = ? WHERE claimed_by = ? AND status = 'running'",
                (until, holder)).rowcount
            return int(agents) + int(jobs)

        return await self._transaction("renew_leases", work)

    async def release_holder(self, holder: str, *, now: float) -> int:
        def work(conn: sqlite3.Connection) -> int:
            agents = conn.execute(
                "UPDATE agent_leases SET busy = 0 WHERE holder = ? AND busy = 1", (holder,)).rowcount
            jobs = conn.execute(
                "UPDATE memory_jobs SET lease_until = ? WHERE claimed_by = ? AND status = 'running'",
                (now, holder)).rowcount
            return int(agents) + int(jobs)

        return await self._transaction("release_holder", work)
