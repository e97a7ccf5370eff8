"""Opening, migrating and error translation of the SQLite store."""

from __future__ import annotations

import asyncio
import inspect
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.store.helpers import make_agent, msg
from voice_letta.agent.ports import Store
from voice_letta.errors import NotFoundError, StorageError
from voice_letta.store import SqliteStore, open_any_store, open_store
from voice_letta.store.fts import fts_query
from voice_letta.store.postgres import PostgresStore
from voice_letta.store.sqlite.checkpoint import Checkpointer
from voice_letta.store.sqlite.db import load_migrations, split_statements


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    """This module tests the SQLite backend's own machinery (the contract tests run on every backend)."""
    s = await open_store(db_path)
    try:
        yield s
    finally:
        await s.aclose()


def _sync_query(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def test_open_creates_parent_dirs_and_records_every_migration(db_path: Path) -> None:
    store = await open_store(db_path)
    await store.aclose()
    assert await asyncio.to_thread(db_path.exists)
    versions = await asyncio.to_thread(
        _sync_query, db_path, "SELECT version, name FROM schema_version ORDER BY version"
    )
    assert [v for v, _ in versions] == [m.version for m in await asyncio.to_thread(load_migrations)]
    assert versions[0] == (1, "init")


async def test_reopen_applies_no_migration_twice_and_keeps_data(db_path: Path) -> None:
    store = await open_store(db_path)
    agent = await make_agent(store)
    await store.aclose()
    store = await open_store(db_path)
    try:
        assert (await store.get_agent(agent.id)).name == "ada"
    finally:
        await store.aclose()
    rows = await asyncio.to_thread(
        _sync_query, db_path, "SELECT count(*), count(DISTINCT version) FROM schema_version"
    )
    assert rows[0][0] == rows[0][1] == len(await asyncio.to_thread(load_migrations))


async def test_wal_foreign_keys_and_synchronous_normal_are_on(store: SqliteStore) -> None:
    db = store._db
    assert next(iter(await db.execute_fetchall("PRAGMA journal_mode")))[0] == "wal"
    assert next(iter(await db.execute_fetchall("PRAGMA foreign_keys")))[0] == 1
    assert next(iter(await db.execute_fetchall("PRAGMA synchronous")))[0] == 1  # NORMAL
    assert next(iter(await db.execute_fetchall("PRAGMA busy_timeout")))[0] > 0


def test_migration_splitter_keeps_trigger_bodies_whole() -> None:
    sql = load_migrations()[0].sql
    statements = split_statements(sql)
    triggers = [s for s in statements if "CREATE TRIGGER" in s]
    assert len(triggers) == 6
    assert all(s.rstrip().endswith("END;") for s in triggers)


async def test_commits_leave_the_wal_to_the_background_checkpointer(store: SqliteStore, db_path: Path) -> None:
    """No COMMIT checkpoints (it would run under the cross-process write gate); the store's checkpointer copies
    the log back into the database file by itself, and a second checkpointer on the same file coexists."""
    assert next(iter(await store._db.execute_fetchall("PRAGMA wal_autocheckpoint")))[0] == 0
    assert store.checkpointer is not None
    agent = await make_agent(store)
    for n in range(40):
        await store.append_messages([msg(agent.id, "user", f"line {n} " * 50)])
    async with asyncio.timeout(30):  # the background round runs every SQLITE_CHECKPOINT_S
        while store.checkpointer.runs == 0 or store.checkpointer.last[0] == 0:  # noqa: ASYNC110 - a thread's state
            await asyncio.sleep(0.05)
    frames, copied = store.checkpointer.last
    assert copied == frames > 0
    other = await open_store(db_path)
    try:
        assert other.checkpointer is not None
        await other.append_messages([msg(agent.id, "user", "from the other process")])
        async with asyncio.timeout(30):  # False only while the store's own round holds the checkpoint lock
            while not await asyncio.to_thread(other.checkpointer.checkpoint):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert len(await store.list_messages(agent.id, limit=100)) == 41
    finally:
        await other.aclose()


async def test_the_log_starts_again_under_writes_without_a_pause(store: SqliteStore, db_path: Path) -> None:
    """Found with strace under bench/http_latency.py (one stream, ~45 turns a second): a passive checkpoint copies the
    log as it was when it began, a commit always landed meanwhile, so the log never started again and the WAL file
    grew by every frame written (250 MB in a minute). A round that finds the log long finishes under the write gate;
    the file then stays near that length however much is written."""
    assert store.checkpointer is not None
    await store.checkpointer.aclose()
    store.checkpointer = checkpointer = Checkpointer(db_path, interval_s=0.05, restart_frames=200)
    checkpointer.start()
    agent = await make_agent(store)
    loop = asyncio.get_running_loop()
    written, last_seen, n = 0, 0, 0
    deadline = loop.time() + 30
    while written < 10_000 and loop.time() < deadline:  # ~40 MB of frames (a lower bound: rounds see the log)
        await store.append_messages([msg(agent.id, "user", f"line {n} " * 50)])
        n += 1
        frames = checkpointer.last[0]  # the log's length at the latest round: from 0 again after a restart
        written += frames - last_seen if frames >= last_seen else frames
        last_seen = frames
    assert written >= 10_000, f"only {written} frames in 30 s ({n} appends)"
    wal_bytes = (await asyncio.to_thread(os.stat, f"{db_path}-wal")).st_size
    assert wal_bytes < written * 4096 / 2, (wal_bytes, written)  # without restarts: every frame, 40 MB or more
    assert checkpointer.restarts >= 2
    assert len(await store.list_messages(agent.id, limit=10_000)) == n


@pytest.mark.parametrize("backend", [SqliteStore, PostgresStore])
async def test_store_matches_the_store_protocol_signatures(backend: type) -> None:
    for name, proto in inspect.getmembers(Store, inspect.isfunction):
        if name.startswith("_"):
            continue
        impl = getattr(backend, name)
        assert inspect.iscoroutinefunction(impl), name
        assert str(inspect.signature(impl)) == str(inspect.signature(proto)), name


async def test_message_for_unknown_agent_raises_storage_error_not_sqlite_error(store: SqliteStore) -> None:
    with pytest.raises(StorageError) as info:
        await store.append_messages([msg("agent-missing", "user", "hello")])
    assert not isinstance(info.value, sqlite3.Error)
    assert isinstance(info.value.__cause__, sqlite3.IntegrityError)
    # the failed transaction was rolled back: the store still works
    agent = await make_agent(store)
    assert (await store.append_messages([msg(agent.id, "user", "hi")]))[0].seq == 1


async def test_duplicate_message_id_is_a_storage_error(store: SqliteStore) -> None:
    agent = await make_agent(store)
    m = msg(agent.id, "user", "once")
    await store.append_messages([m])
    with pytest.raises(StorageError):
        await store.append_messages([m])
    assert len(await store.list_messages(agent.id)) == 1


async def test_closed_store_raises_storage_error(db_path: Path) -> None:
    store = await open_store(db_path)
    await store.aclose()
    await store.aclose()  # idempotent
    with pytest.raises(StorageError):
        await store.list_messages("agent-x")
    with pytest.raises(StorageError):
        await store.evict_messages("agent-x", through_seq=1)


async def test_unknown_ids_raise_not_found(store: SqliteStore) -> None:
    with pytest.raises(NotFoundError):
        await store.get_agent("agent-missing")
    with pytest.raises(NotFoundError):
        await store.get_block("block-missing")
    with pytest.raises(NotFoundError):
        await store.get_tool("tool-missing")
    with pytest.raises(NotFoundError):
        await store.delete_agent("agent-missing")
    with pytest.raises(NotFoundError):
        await store.update_message("msg-missing", content="x")


async def test_opening_a_file_that_is_not_a_database_raises_storage_error(tmp_path: Path) -> None:
    bad = tmp_path / "junk.db"
    await asyncio.to_thread(bad.write_bytes, b"this is not sqlite" * 100)
    with pytest.raises(StorageError):
        await open_store(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("   ", None),
        ("the and of it", None),
        ('"foo OR (', '"foo"'),
        ("NEAR/3 *", '"near" OR "3"'),
        ("Pizza pizza PIZZA toppings", '"pizza" OR "toppings"'),
        ('say "hi"^ col:x', '"say" OR "hi" OR "col" OR "x"'),
    ],
)
def test_fts_query_quotes_words_and_drops_operators(text: str, expected: str | None) -> None:
    assert fts_query(text) == expected


async def test_a_pooled_postgresql_connection_comes_back_without_an_open_transaction(pg_databases: Any) -> None:
    """The pool skips asyncpg's reset round trip on release (store/postgres/db.py keep_session) but still rolls
    back a transaction a cancelled call left open, and the connection keeps its worker id."""
    from voice_letta.store.postgres.db import connect

    pool = await connect(await pg_databases.create(), origin="w-test", min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")
            await conn.execute("CREATE TEMP TABLE left_open (x int)")
            assert conn.is_in_transaction()
        async with pool.acquire() as conn:  # the same (only) connection
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT to_regclass('left_open')") is None  # rolled back
            assert await conn.fetchval("SELECT current_setting('voice_letta.origin')") == "w-test"
    finally:
        await pool.close()


async def test_the_postgresql_turn_functions_write_and_read_every_column_rows_py_knows(pg_databases: Any) -> None:
    """``vl_begin_turn`` / ``vl_end_turn`` (migration 0005) spell out the columns they insert and return: a column
    added to store/rows.py must be added to them too (a new migration), or it would silently not be stored."""
    from voice_letta.store import rows as R

    store = await open_any_store(await pg_databases.create())
    try:
        async def source(name: str) -> str:  # the newest overload (vl_begin_turn: 0014's, with p_known)
            return str(await store._pool.fetchval(
                "SELECT pg_get_functiondef(oid) FROM pg_proc WHERE proname = $1 ORDER BY pronargs DESC LIMIT 1", name))

        append, save, begin = [await source(n) for n in ("vl_append_rows", "vl_save_turn", "vl_begin_turn")]
        for column in R.MESSAGE_INSERT_COLUMNS.split(","):
            assert f"r.{column.strip()}" in append, column
        for column in R.MESSAGE_COLUMNS.split(","):
            assert f"m.{column.strip()}" in begin, column
        for column in R.TURN_COLUMNS.split(","):
            assert f"excluded.{column.strip()}" in save or column.strip() == "id", column
    finally:
        await store.aclose()
