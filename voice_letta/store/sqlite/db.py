"""Connection and migration plumbing for the SQLite store.

- ``connect()`` opens one aiosqlite connection in autocommit mode (we issue ``BEGIN``/``COMMIT``
  ourselves) with WAL, foreign keys, ``synchronous=NORMAL`` and a busy timeout.
- Migrations are numbered SQL files in ``voice_letta/store/sqlite/migrations`` (``0001_init.sql``, ...), shipped
  as package data and read with ``importlib.resources``. Each missing one is applied in its own
  transaction and recorded in ``schema_version``; re-opening a database applies only the missing ones.
- ``translate_errors()`` turns sqlite/aiosqlite failures into ``StorageError``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import aiosqlite

from voice_letta.errors import StorageError
from voice_letta.store.migrations import Migration, load_packaged

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
CACHED_STATEMENTS = 256


def _null(value: None) -> None:
    return value


def _blob(value: bytes) -> bytes:
    return value


# sqlite3 sends every parameter that is not exactly an int, float, str or bytearray (None, bytes) through its
# adapter protocol; with no adapter registered for the type it looks ``__adapt__`` up on its protocol type, which
# formats an AttributeError and drops it (CPython 3.11): ~3,000 instructions per NULL or BLOB parameter, ~20 of them
# a turn, 4 % of the store thread's instructions. A registered adapter is found first and binds the value unchanged.
sqlite3.register_adapter(type(None), _null)
sqlite3.register_adapter(bytes, _blob)


@contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """Re-raise sqlite and closed-connection errors as ``StorageError`` (our own errors pass through)."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StorageError(f"{action} failed: {exc}") from exc
    except ValueError as exc:  # aiosqlite: "Connection closed" / "no active connection"
        raise StorageError(f"{action} failed: {exc}") from exc


def load_migrations() -> list[Migration]:
    """Read the packaged migration files, ordered by version. Blocking: call through ``to_thread``."""
    return load_packaged("voice_letta.store.sqlite")


def split_statements(script: str) -> list[str]:
    """Split a SQL script into complete statements (trigger bodies stay whole)."""
    statements: list[str] = []
    buf: list[str] = []
    for line in script.splitlines(keepends=True):
        buf.append(line)
        text = "".join(buf)
        if sqlite3.complete_statement(text):
            statements.append(text.strip())
            buf.clear()
    rest = "".join(buf)
    if _strip_comments(rest).strip():
        raise StorageError(f"incomplete SQL statement at end of migration: {rest.strip()[:80]!r}")
    return statements


def _strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


async def connect(path: Path, *, origin: str = "", writes: Callable[[], int] = lambda: 0
                  ) -> aiosqlite.Connection:
    """Open the database file (created if missing) and set the connection pragmas.

    ``origin`` is this process's worker id, returned by the SQL function ``vl_origin()`` that the change-log
    triggers (migration 0005) stamp their rows with; ``writes`` returns the number of this process's write
    transactions so far (``WriteGate.writes``), ``vl_write()`` to the triggers of migration 0012.
    """
    with translate_errors("opening the database"):
        conn = await aiosqlite.connect(
            str(path),
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
            cached_statements=CACHED_STATEMENTS,
        )
        try:
            rows = await conn.execute_fetchall("PRAGMA journal_mode=WAL")
            mode = next(iter(rows))[0]
            if str(mode).lower() != "wal" and str(path) != ":memory:":
                raise StorageError(f"could not switch {path} to WAL (journal_mode={mode})")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            await conn.create_function("vl_origin", 0, lambda: origin, deterministic=True)
            # the store's count of write-gate acquisitions: one value per write transaction (migration 0012)
            await conn.create_function("vl_write", 0, writes, deterministic=False)
        except BaseException:
            await asyncio.shield(conn.close())
            raise
    return conn


async def applied_versions(conn: aiosqlite.Connection) -> set[int]:
    rows = await conn.execute_fetchall("SELECT version FROM schema_version")
    return {int(r[0]) for r in rows}


async def migrate(conn: aiosqlite.Connection) -> list[int]:
    """Apply the missing migrations in order; return the versions applied now."""
    migrations = await asyncio.to_thread(load_migrations)
    applied_now: list[int] = []
    with translate_errors("migrating the database"):
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
        done = await applied_versions(conn)
        known = {m.version for m in migrations}
        if unknown := done - known:
            log.warning("database has schema versions this code does not know: %s", sorted(unknown))
        for migration in migrations:
            if migration.version in done:
                continue
            statements = split_statements(migration.sql)
            await conn.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have applied it while we waited for the write lock.
                if migration.version in await applied_versions(conn):
                    await conn.execute("ROLLBACK")
                    continue
                for statement in statements:
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, time.time()),
                )
                await conn.execute("COMMIT")
            except BaseException:
                await asyncio.shield(rollback_quietly(conn))
                raise
            applied_now.append(migration.version)
            log.info("applied schema migration %04d_%s", migration.version, migration.name)
    return applied_now


async def rollback_quietly(conn: aiosqlite.Connection) -> None:
    try:
        await conn.execute("ROLLBACK")
    except (sqlite3.Error, ValueError):
        pass  # no transaction open (sqlite already rolled back) or the connection is gone
