"""The SQLite backend of the store (aiosqlite, WAL, FTS5): the embedded default."""

from voice_letta.store.sqlite.store import SqliteStore, open_store

__all__ = ["SqliteStore", "open_store"]
