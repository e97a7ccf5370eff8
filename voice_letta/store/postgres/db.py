"""Connection pool, migrations and error translation for the PostgreSQL store (asyncpg).

- ``connect(url, origin)`` opens an asyncpg pool; every connection carries ``voice_letta.origin`` (this process's
  worker id, read by the change-log triggers through ``vl_origin()``) and the statement cache asyncpg keeps per
  connection.
- Migrations are numbered SQL files in ``voice_letta/store/postgres/migrations``; each missing one runs in its
  own transaction under an advisory lock, so several processes starting at once apply each exactly once.
- ``translate_errors()`` turns asyncpg and connection failures into ``StorageError``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from voice_letta.errors import StorageError
from voice_letta.store.migrations import Migration, load_packaged

log = logging.getLogger(__name__)

_MIGRATION_LOCK = 7_236_104_117  # pg_advisory_lock key: "voice-letta migrations"
POOL_MIN = 1
POOL_MAX = 10
COMMAND_TIMEOUT_S = 30.0


@contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """Re-raise database and connection errors as ``StorageError`` (our own errors pass through)."""
    try:
        yield
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StorageError(f"{action} failed: {exc}") from exc
    except (OSError, TimeoutError) as exc:
        raise StorageError(f"{action} failed: the database is unreachable ({exc})") from exc


def load_migrations() -> list[Migration]:
    """The packaged migration files, ordered by version. Blocking: call through ``to_thread``."""
    return load_packaged("voice_letta.store.postgres")


async def keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset of a released connection: roll back a transaction left open, nothing else.

    asyncpg's default reset sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on every release,
    one more round trip for every store call (begin_turn, end_turn, each read). The store leaves no session state
    on a pooled connection: its advisory locks are transaction-scoped (or, for migrations, released in a
    ``finally``), LISTEN has a connection of its own, and it never SETs anything or opens a cursor outside a
    transaction; the connection's startup settings (``voice_letta.origin``) are what RESET ALL would restore.
    """
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def connect(url: str, *, origin: str, min_size: int = POOL_MIN, max_size: int = POOL_MAX) -> asyncpg.Pool:
    with translate_errors("connecting to PostgreSQL"):
        pool: asyncpg.Pool = await asyncpg.create_pool(
            url, min_size=min_size, max_size=max_size, command_timeout=COMMAND_TIMEOUT_S, reset=keep_session,
            server_settings={"voice_letta.origin": origin, "application_name": "voice-letta"})
    return pool


async def migrate(pool: asyncpg.Pool) -> list[int]:
    """Apply the missing migrations in order; return the versions applied now."""
    migrations = await asyncio.to_thread(load_migrations)
    applied_now: list[int] = []
    with translate_errors("migrating the database"):
        async with pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version ("
                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)")
                done = {int(r[0]) for r in await conn.fetch("SELECT version FROM schema_version")}
                if unknown := done - {m.version for m in migrations}:
                    log.warning("database has schema versions this code does not know: %s", sorted(unknown))
                for migration in migrations:
                    if migration.version in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(migration.sql)
                        await conn.execute("INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)",
                                           migration.version, migration.name, time.time())
                    applied_now.append(migration.version)
                    log.info("applied PostgreSQL schema migration %04d_%s", migration.version, migration.name)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied_now
