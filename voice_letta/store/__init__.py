"""Persistence: the ``Store`` adapters of ``voice_letta.agent.ports``.

``sqlite/`` is the embedded default (one file, aiosqlite, WAL, FTS5). ``rows.py`` (row codecs), ``common.py``
(the contract's rules that are not SQL), ``fts.py`` (query terms) and ``cache.py`` (the agent read-through
cache) are shared by every backend.
"""

from voice_letta.store.sqlite import SqliteStore, open_store

__all__ = ["SqliteStore", "open_store"]
