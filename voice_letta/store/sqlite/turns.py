"""Turn records and the agent lease: ``TurnsMixin`` of ``SqliteStore`` (migration 0004 for the lease).

A turn costs two transactions, each one thread hop: ``begin_turn`` takes the agent's lease, looks the
fingerprint up, stores the turn record with the input rows (so a retry after a crash finds the turn and does
not store the input again) and takes the in-context history (the window this process knows at the agent's
``messages_version``, migration 0018, or else read: ``windows.py``); ``end_turn`` stores the reply rows and the
final turn record and gives the lease back. The lease is a row per agent (``agent_leases``): ``busy`` while a turn
runs, free again when given back or when ``expires_at`` passes (its holder died without giving it back; a live
holder renews it with ``renew_leases``). ``token`` grows by one per acquisition, so a holder whose lease expired
and was taken over cannot release the new holder's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from operator import itemgetter
from typing import Any, NamedTuple

from voice_letta import config as C
from voice_letta.agent.models import Message, TurnRecord
from voice_letta.agent.ports import BeginCancelled, TurnBegun, is_retry_of, never_completed
from voice_letta.store import rows as R
from voice_letta.store.common import chunked
from voice_letta.store.sqlite.base import MAX_BOUND_VARS, SqliteBase
from voice_letta.store.sqlite.db import translate_errors
from voice_letta.store.sqlite.messages import APPEND_ONE, APPEND_ONE_ID, SEQ_OF_ROW, append_params, append_sql

_TURN_COLUMNS = [c.strip() for c in R.TURN_COLUMNS.split(",")]
_SAVE_TURN = (
    f"INSERT INTO turns ({R.TURN_COLUMNS}) VALUES ({R.placeholders(R.TURN_COLUMNS)}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _TURN_COLUMNS[1:])}"
)
# end_turn: the turn's record was stored when it began (begin_turn), and what identifies it (agent, fingerprint, key,
# start) does not change; setting only what a turn's end changes leaves those columns' index entries alone (SQLite
# rewrites the entries of every index over a column in SET: four of the turns table's six indexes, ~4 WAL pages)
_IDENTITY = {"id", "agent_id", "fingerprint", "idempotency_key", "started_at"}
_END_TURN = (
    f"INSERT INTO turns ({R.TURN_COLUMNS}) VALUES ({R.placeholders(R.TURN_COLUMNS)}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _TURN_COLUMNS if c not in _IDENTITY)}"
)
# The same as an UPDATE by id over the same parameters (?n: the n-th of turn_params), for the record begin_turn stored:
# the upsert first builds and probes an insert that conflicts. The upsert runs only when the record is not there.
_END_STORED_TURN = (
    f"UPDATE turns SET {', '.join(f'{c} = ?{i}' for i, c in enumerate(_TURN_COLUMNS, 1) if c not in _IDENTITY)} "
    "WHERE id = ?1"
)
_FIND_TURN = (
    f"SELECT {R.TURN_COLUMNS} FROM turns WHERE agent_id = ? AND fingerprint = ? ORDER BY started_at DESC LIMIT 1"
)
# The turn stored last (it took the lease last), not the last to arrive (migration 0011), and, in the same statement,
# the agent's turns with the request's fingerprint that started in the retry window (a key-less re-send
# queued behind other turns: the latest of them other than the latest turn, then checked by never_completed and for
# its input still in context). Almost every turn finds only the first; "+started_at" keeps the planner on
# turns_agent_fingerprint (one index probe) rather than turns_agent_started (every turn of the agent in the retry
# window, then a sort). The fingerprint's turns come in no order (newest first is sorted here): with statistics
# (PRAGMA optimize at close writes them) "ORDER BY rowid DESC LIMIT 2" made SQLite sort them in a temporary b-tree
# at every turn rather than walk the index backwards (~10 k instructions; they are 0-2 rows in the retry window).
# Only the columns the checks read: the whole record is read for the retry alone (a TurnRecord built from a row,
# its usage and timings JSON validated, was ~50 us a turn; these were two statements).
_BRIEF = "id, agent_id, fingerprint, status, started_at, ended_at, error"
_LATEST_AND_SAME = (
    f"SELECT 0, * FROM (SELECT rowid, {_BRIEF} FROM turns WHERE agent_id = ?1 ORDER BY rowid DESC LIMIT 1) "
    f"UNION ALL SELECT 1, rowid, {_BRIEF} FROM turns WHERE agent_id = ?1 AND fingerprint = ?2 AND +started_at >= ?3"
)
_ROWID = itemgetter(1)  # of a _LATEST_AND_SAME row
_TURN_BY_ID = f"SELECT {R.TURN_COLUMNS} FROM turns WHERE id = ?"
_INPUT_IN_CONTEXT = (
    "SELECT 1 FROM messages WHERE agent_id = ? AND turn_id = ? AND role IN ('user', 'tool') AND in_context = 1 "
    "LIMIT 1"
)
_KEYED_TURN = (
    f"SELECT {R.TURN_COLUMNS} FROM turns WHERE agent_id = ? AND idempotency_key = ? AND started_at >= ? "
    "ORDER BY started_at DESC LIMIT 1"
)
_DROP_INPUT = "DELETE FROM messages WHERE agent_id = ? AND turn_id = ? AND role IN ('user', 'tool')"
_MARK_UNFINISHED = (
    "UPDATE turns SET status = 'incomplete', stop_reason = coalesce(stop_reason, 'server_stopped'), "
    "error = coalesce(error, 'server_stopped'), ended_at = coalesce(ended_at, ?1) "
    "WHERE status = 'running' AND NOT EXISTS (SELECT 1 FROM agent_leases l WHERE l.agent_id = turns.agent_id "
    "AND l.busy = 1 AND l.expires_at >= ?1)"
)
# The turn's statements have no RETURNING: SQLite buffers a RETURNING statement's rows in an ephemeral table (a
# b-tree opened, a page zeroed, closed), ~14,000 instructions each against a primary-key read after it (4 a turn).
_ACQUIRE = (
    "INSERT INTO agent_leases (agent_id, holder, token, busy, expires_at) VALUES (?1, ?2, 1, 1, ?4) "
    "ON CONFLICT (agent_id) DO UPDATE SET holder = ?2, token = token + 1, busy = 1, expires_at = ?4 "
    "WHERE busy = 0 OR expires_at < ?3"
)
_LEASE = "SELECT token, messages_version FROM agent_leases WHERE agent_id = ?"
_RELEASE = "UPDATE agent_leases SET busy = 0 WHERE agent_id = ? AND holder = ? AND token = ? AND busy = 1"
_VERSION = "SELECT messages_version FROM agent_leases WHERE agent_id = ?"
_PER_STATEMENT = MAX_BOUND_VARS // (R.column_count(R.MESSAGE_INSERT_COLUMNS) + 2)


def _inserts(rows: Sequence[Message]) -> list[tuple[str, list[Any]]]:
    """The statements that append ``rows``, built before the write lock is taken (one row: without RETURNING)."""
    if len(rows) == 1:
        return [(APPEND_ONE, append_params(rows))]
    return [(append_sql(len(chunk)), append_params(chunk)) for chunk in chunked(rows, _PER_STATEMENT)]


def _run_inserts(conn: sqlite3.Connection, inserts: list[tuple[str, list[Any]]]) -> dict[str, int]:
    seqs: dict[str, int] = {}
    for sql, params in inserts:
        if sql is APPEND_ONE:
            rowid = conn.execute(sql, params).lastrowid
            seqs[params[APPEND_ONE_ID]] = conn.execute(SEQ_OF_ROW, (rowid,)).fetchall()[0][0]
        else:
            seqs.update((r[0], r[1]) for r in conn.execute(sql, params).fetchall())
    return seqs


def _with_seqs(rows: Sequence[Message], seqs: dict[str, int]) -> list[Message]:
    return [R.stored_message(m, seqs[m.id]) for m in rows]


def _in_context(rows: Sequence[Message]) -> list[Message]:
    """The stored rows that joined the window (each added one to the agent's ``messages_version``)."""
    return [m for m in rows if m.in_context]


class _Brief(NamedTuple):
    """The columns of ``_LATEST_BRIEF``: what the replay rule (``is_retry_of``) and the checks read, never returned
    (a TurnRecord costs 12 us to validate, 100 us through ``model_construct``'s default factories)."""

    id: str
    agent_id: str
    fingerprint: str | None
    status: str
    started_at: float
    ended_at: float | None
    error: str | None


def _earlier_unfinished(conn: sqlite3.Connection, latest: _Brief, same: list[_Brief]) -> TurnRecord | None:
    """Of the agent's latest turns with the request's fingerprint (``same``, newest first), the latest one other than
    ``latest`` when it never completed and its input is still in context (the contract: ``TurnStore.begin_turn``)."""
    earlier = next((t for t in same if t.id != latest.id), None)
    if earlier is None or not never_completed(earlier) \
            or conn.execute(_INPUT_IN_CONTEXT, (earlier.agent_id, earlier.id)).fetchone() is None:
        return None
    return _record(conn, earlier.id)


def _record(conn: sqlite3.Connection, turn_id: str) -> TurnRecord:
    return R.turn_from_row(conn.execute(_TURN_BY_ID, (turn_id,)).fetchall()[0])


class TurnsMixin(SqliteBase):
    begin_turn_survives_cancel = True  # BeginCancelled (Store.begin_turn): the caller needs no task around it

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
        self, turn: TurnRecord, rows: Sequence[Message], *, holder: str, lease_s: float, now: float,
        replay_window_s: float = C.REPLAY_WINDOW_S, retry_window_s: float = C.RETRY_WINDOW_S,
        key_ttl_s: float = C.IDEMPOTENCY_KEY_TTL_S, supersede_abandoned: bool = False,
        supersede_window_s: float = C.SUPERSEDE_WINDOW_S,
    ) -> TurnBegun | None:
        agent_id = turn.agent_id
        turn_params = R.turn_params(turn)
        inserts = _inserts(rows)
        gate = self._gate
        history_rows = self._windows

        # Under the write lock only the statements; the history is taken or read, and every row decoded, once the
        # transaction committed (``_transaction_then``). Reading it after the commit sees the same rows: this turn
        # holds the agent's lease, so no other turn of the agent writes in between.
        def work(conn: sqlite3.Connection) -> tuple[int, int, TurnRecord | None, dict[str, int], bool] | None:
            if conn.execute(_ACQUIRE, (agent_id, holder, now, now + lease_s)).rowcount < 1:
                return None  # busy: the upsert changed nothing
            got = conn.execute(_LEASE, (agent_id,)).fetchall()
            previous = None
            dropped = False
            if turn.idempotency_key is not None:
                found = conn.execute(_KEYED_TURN, (agent_id, turn.idempotency_key, now - key_ttl_s)).fetchall()
                previous = R.turn_from_row(found[0]) if found else None
            else:
                found = conn.execute(_LATEST_AND_SAME, (agent_id, turn.fingerprint, now - retry_window_s)).fetchall()
                latest = next((_Brief(*r[2:]) for r in found if r[0] == 0), None)
                if latest is not None and turn.fingerprint is not None and latest.fingerprint == turn.fingerprint \
                        and is_retry_of(latest, now, replay_window_s=replay_window_s, retry_window_s=retry_window_s):
                    previous = _record(conn, latest.id)
                elif latest is not None and turn.fingerprint is not None:
                    same = sorted((r for r in found if r[0] == 1), key=_ROWID, reverse=True)
                    previous = _earlier_unfinished(conn, latest, [_Brief(*r[2:]) for r in same])
                if previous is None and latest is not None and supersede_abandoned \
                        and latest.status == "abandoned" and now - latest.started_at <= supersede_window_s:
                    dropped = conn.execute(_DROP_INPUT, (agent_id, latest.id)).rowcount > 0
            seqs: dict[str, int] = {}
            if previous is None:
                conn.execute(_SAVE_TURN, turn_params)
                seqs = _run_inserts(conn, inserts)
            return int(got[0][0]), int(got[0][1]), previous, seqs, dropped

        def then(conn: sqlite3.Connection, done: tuple[int, int, TurnRecord | None, dict[str, int], bool] | None
                 ) -> TurnBegun | None:
            if done is None:
                return None
            lease, version, previous, seqs, dropped = done
            try:
                inserted = _with_seqs(rows, seqs) if previous is None else []
                # The window known at the version the lease showed, plus this turn's rows, is the window now (the
                # count it adds is known too); else it is read back.
                known = None if dropped else history_rows.known(agent_id, version)
                if known is not None:
                    joined = _in_context(inserted)
                    history = [*known, *joined]
                    history_rows.remember(agent_id, version + len(joined), history)
                else:
                    history = history_rows.read(conn, agent_id)
            except BaseException:
                # the caller gets an error, not the lease: give it back now rather than when it expires
                gate.acquire()
                try:
                    conn.execute(_RELEASE, (agent_id, holder, lease))
                finally:
                    gate.release()
                raise
            return TurnBegun(lease=lease, previous=previous, inserted=inserted, history=history)

        return await self._transaction_kept("begin_turn", work, then, BeginCancelled)

    async def end_turn(
        self, agent_id: str, turn: TurnRecord | None, rows: Sequence[Message], *, holder: str, lease: int
    ) -> list[Message]:
        inserts = _inserts(rows)
        turn_params = R.turn_params(turn) if turn is not None else None
        history_rows = self._windows

        def work(conn: sqlite3.Connection) -> tuple[dict[str, int], int | None]:
            seqs = _run_inserts(conn, inserts)
            if turn_params is not None and conn.execute(_END_STORED_TURN, turn_params).rowcount < 1:
                conn.execute(_END_TURN, turn_params)  # not stored (yet): as before, insert or update
            if conn.execute(_RELEASE, (agent_id, holder, lease)).rowcount < 1:
                return seqs, None
            return seqs, int(conn.execute(_VERSION, (agent_id,)).fetchall()[0][0])

        def then(conn: sqlite3.Connection, done: tuple[dict[str, int], int | None]) -> list[Message]:
            seqs, version = done
            stored = _with_seqs(rows, seqs)
            # the window this turn began with, plus its reply, if nothing else changed the agent's messages since
            joined = _in_context(stored)
            history_rows.advance(agent_id, version, len(joined), lambda window: [*window, *joined])
            return stored

        return await self._transaction_then("end_turn", work, then)

    async def list_turns(self, agent_id: str, *, limit: int = 50, status: str | None = None) -> list[TurnRecord]:
        """The agent's latest turns, oldest first."""
        where = "agent_id = ?" + (" AND status = ?" if status is not None else "")
        params: tuple[object, ...] = (agent_id, status, limit) if status is not None else (agent_id, limit)
        found = await self._fetch("list_turns", f"SELECT {R.TURN_COLUMNS} FROM turns WHERE {where} "
                                  "ORDER BY started_at DESC, rowid DESC LIMIT ?", params)
        with translate_errors("decoding turns"):
            return [R.turn_from_row(r) for r in reversed(found)]

    async def busy_lease_holders(self) -> list[str]:
        """The holders of the agent leases that are busy now (expired or not)."""
        found = await self._fetch("busy_lease_holders",
                                  "SELECT DISTINCT holder FROM agent_leases WHERE busy = 1", ())
        return [str(r[0]) for r in found]

    async def mark_unfinished_turns(self, *, now: float) -> int:
        """Turns still 'running' whose agent lease is no longer held (their process died) become 'incomplete'."""
        return await self._exec("mark_unfinished_turns", _MARK_UNFINISHED, (now,))

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
            conn.execute("UPDATE agent_leases SET holder = '' WHERE holder = ?", (holder,))
            jobs = conn.execute(
                "UPDATE memory_jobs SET lease_until = ? WHERE claimed_by = ? AND status = 'running'",
                (now, holder)).rowcount
            return int(agents) + int(jobs)

        return await self._transaction("release_holder", work)
