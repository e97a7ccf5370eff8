"""Both backends have the same tables and columns: a SQLite migration without its PostgreSQL twin fails here."""

from __future__ import annotations

from pathlib import Path

from tests.postgres import Databases
from voice_letta.store import open_store
from voice_letta.store.postgres import open_pg_store

# SQLite-only machinery: FTS5 tables and their fts5vocab views (PostgreSQL keeps tsvector columns and statistics)
_SQLITE_ONLY = ("messages_fts", "passages_fts", "messages_vocab", "passages_vocab", "sqlite_sequence")
# PostgreSQL's tables name their insertion order "pos"; a change-log row's transaction is its xmin there (SQLite
# stamps write_seq, migration 0012)
_SQLITE_ONLY_COLUMNS = {"rowid", "write_seq"}
# columns PostgreSQL keeps in another table: the count of an agent's window changes is in its message_seq row, whose
# lock every append takes first (PostgreSQL migration 0014)
_ELSEWHERE = {("agent_leases", "messages_version"): ("message_seq", "messages_version")}


async def test_every_sqlite_table_and_column_exists_in_postgresql(tmp_path: Path, pg_databases: Databases) -> None:
    lite = await open_store(tmp_path / "schema.db")
    pg = await open_pg_store(await pg_databases.create())
    try:
        tables = [r[0] for r in await lite._db.execute_fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        expected = {
            t: {r[1] for r in await lite._db.execute_fetchall(f"PRAGMA table_info({t})")} - _SQLITE_ONLY_COLUMNS
            for t in tables if not t.startswith(_SQLITE_ONLY)}
        found: dict[str, set[str]] = {}
        for r in await pg._pool.fetch("SELECT table_name, column_name FROM information_schema.columns "
                                      "WHERE table_schema = 'public'"):
            found.setdefault(r[0], set()).add(r[1])
        for (table, column), (pg_table, pg_column) in _ELSEWHERE.items():
            assert column in expected[table] and pg_column in found[pg_table]
            expected[table].discard(column)
        missing = {t: sorted(cols - found.get(t, set())) for t, cols in expected.items() if cols - found.get(t, set())}
        assert missing == {}, f"mirror these SQLite columns in store/postgres/migrations: {missing}"
    finally:
        await lite.aclose()
        await pg.aclose()
