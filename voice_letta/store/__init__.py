"""Persistence: the ``Store`` adapters of ``voice_letta.agent.ports``.

``sqlite/`` is the embedded default (one file, aiosqlite, WAL, FTS5); ``postgres/`` (asyncpg) is for several
machines on one database, selected by a ``postgresql://`` URL. Each backend has its own numbered migrations: a
schema change is made in both, and the contract tests (tests/integration/store) run against both. ``rows.py``
(row codecs), ``common.py`` (the contract's rules that are not SQL), ``fts.py`` (query terms), ``migrations.py``
(finding and ordering the migration files) and ``cache.py`` (the agent read-through cache) are shared by every
backend.
"""

from pathlib import Path

from voice_letta import config as C
from voice_letta.agent.ports import Store
from voice_letta.store.sqlite import SqliteStore, open_store

__all__ = ["SqliteStore", "is_database_url", "open_any_store", "open_store"]


def is_database_url(target: str | Path) -> bool:
    """A PostgreSQL URL (``postgresql://…`` or ``postgres://…``) rather than a SQLite file path."""
    return C.is_database_url(str(target))


async def open_any_store(target: str | Path, *, origin: str | None = None) -> Store:
    """The store ``target`` names: a PostgreSQL URL, or else a SQLite file path."""
    if is_database_url(target):
        from voice_letta.store.postgres import open_pg_store  # asyncpg is imported only when used

        return await open_pg_store(str(target), origin=origin)
    return await open_store(target, origin=origin)
