"""SQLite migrations that rebuild a table (0020 turns, 0021 messages: a CHECK's IN list written as equalities) keep
every row, rowid, index and trigger of a populated database, and the full-text index keyed by those rowids."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from tests.integration.store.helpers import make_agent, msg
from voice_letta import ids
from voice_letta.agent.models import TurnRecord
from voice_letta.store import SqliteStore, open_store
from voice_letta.store.migrations import Migration
from voice_letta.store.sqlite import db as sqlite_db

REBUILDS = (20, 21)
# each a one-row write that checks the rebuilt table's CHECK: SQLite builds an ephemeral b-tree for an IN list of
# more than two constants (OpenEphemeral in the program) on every run of such a statement
CHECKED_WRITES = {
    "messages": "INSERT INTO messages (id, agent_id, seq, role, created_at) VALUES ('m', 'a', 1, 'user', 1)",
    "turns": "UPDATE turns SET status = 'completed', ended_at = 1 WHERE id = 't'",
}


def _snapshot(path: Path) -> dict[str, object]:
    conn = sqlite3.connect(path)
    try:
        return {
            "messages": conn.execute("SELECT rowid, * FROM messages ORDER BY rowid").fetchall(),
            "turns": conn.execute("SELECT rowid, * FROM turns ORDER BY rowid").fetchall(),
            "leases": conn.execute("SELECT * FROM agent_leases ORDER BY agent_id").fetchall(),
            # every index and trigger, word for word (the tables' own text changes: their CHECK)
            "schema": conn.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
                "ORDER BY type, name").fetchall(),
            "tables": conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall(),
            "ephemeral": {table: [r[1] for r in conn.execute("EXPLAIN " + sql)].count("OpenEphemeral")
                          for table, sql in CHECKED_WRITES.items()},
        }
    finally:
        conn.close()


async def _populate(store: SqliteStore) -> tuple[str, list[str]]:
    """Two agents with turns, messages in and out of context (some indexed for search), an edit and a tool row."""
    agent = await make_agent(store)
    other = await make_agent(store, "bo")
    now = time.time()
    for i in range(6):
        for who in (agent, other):
            turn = TurnRecord(id=ids.turn_id(), agent_id=who.id, fingerprint=f"fp{i}")
            begun = await store.begin_turn(turn, [msg(who.id, "user", f"my parrot number {i} likes grapes",
                                                      turn_id=turn.id, at=now + i)],
                                           holder="w", lease_s=10, now=now + i)
            assert begun is not None
            turn.status = "completed"
            turn.ended_at = now + i + 0.5
            await store.end_turn(who.id, turn, [msg(who.id, "assistant", f"parrot {i} noted", turn_id=turn.id,
                                                    at=now + i + 0.5)], holder="w", lease=begun.lease)
    [imported] = await store.append_messages([msg(agent.id, "user", "an imported parrot story", at=now - 100,
                                                  in_context=False, kind="imported")])
    tool = await store.append_messages([msg(agent.id, "tool", "parrot tool output", tool_call_id="c1", name="f")])
    live = await store.list_messages(agent.id, in_context=True)
    await store.evict_messages(agent.id, through_seq=live[5].seq)
    await store.update_message(live[2].id, content="my cat likes grapes")
    found = [h.message.id for h in await store.search_messages(agent.id, "parrot", limit=50)]
    assert imported.id in found and tool[0].id not in found
    return agent.id, sorted(found)


async def test_the_rebuilding_migrations_keep_rows_rowids_indexes_triggers_and_search(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    every = await asyncio.to_thread(sqlite_db.load_migrations)

    def before_the_rebuilds() -> list[Migration]:
        return [m for m in every if m.version < min(REBUILDS)]

    monkeypatch.setattr(sqlite_db, "load_migrations", before_the_rebuilds)
    store = await open_store(db_path)
    try:
        agent_id, found = await _populate(store)
    finally:
        await store.aclose()
    before = await asyncio.to_thread(_snapshot, db_path)
    assert before["ephemeral"] == {"messages": 1, "turns": 1}

    def through_the_rebuilds() -> list[Migration]:  # later migrations add indexes and tables of their own
        return [m for m in every if m.version <= max(REBUILDS)]

    monkeypatch.setattr(sqlite_db, "load_migrations", through_the_rebuilds)

    store = await open_store(db_path)
    try:
        after = await asyncio.to_thread(_snapshot, db_path)
        assert after["ephemeral"] == {"messages": 0, "turns": 0}
        for part in ("messages", "turns", "leases", "schema", "tables"):
            assert after[part] == before[part], part
        assert sorted(h.message.id for h in await store.search_messages(agent_id, "parrot", limit=50)) == found
        await store._db.execute_fetchall("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 0)")
        # the rebuilt tables' triggers still run: an in-context insert counts in the agent's messages_version
        [[version]] = await store._db.execute_fetchall(
            "SELECT messages_version FROM agent_leases WHERE agent_id = ?", (agent_id,))
        await store.append_messages([msg(agent_id, "user", "one more")])
        [[counted]] = await store._db.execute_fetchall(
            "SELECT messages_version FROM agent_leases WHERE agent_id = ?", (agent_id,))
        assert counted == version + 1
        # the same rules as the IN lists
        with pytest.raises(sqlite3.IntegrityError):
            await store._db.execute(
                "INSERT INTO messages (id, agent_id, seq, role, created_at) VALUES ('x', ?, 999, 'robot', 1)",
                (agent_id,))
        with pytest.raises(sqlite3.IntegrityError):
            await store._db.execute("UPDATE turns SET status = 'paused'")
        [[applied]] = await store._db.execute_fetchall(
            f"SELECT count(*) FROM schema_version WHERE version IN {REBUILDS}")
        assert applied == len(REBUILDS)
    finally:
        await store.aclose()
    monkeypatch.undo()
    store = await open_store(db_path)  # the later migrations on the populated database (0022: request keys)
    try:
        [imported] = [m for m in await store.list_messages(agent_id, in_context=False) if m.kind == "imported"]
        assert [m.id for m in await store.imported_at(agent_id, [imported.created_at])] == [imported.id]
    finally:
        await store.aclose()
