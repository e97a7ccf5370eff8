"""SQLite persistence (aiosqlite, WAL, FTS5): the ``Store`` adapter of ``voice_letta.agent.ports``."""

from voice_letta.store.sqlite_store import SqliteStore, open_store

__all__ = ["SqliteStore", "open_store"]
