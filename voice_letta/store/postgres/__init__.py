"""The PostgreSQL backend of the store (asyncpg): several server processes and machines on one database."""

from voice_letta.store.postgres.store import PostgresStore, open_pg_store

__all__ = ["PostgresStore", "open_pg_store"]
