"""``PostgresStore``: the ``agent.ports.Store`` on PostgreSQL through an asyncpg pool.

For deployments beyond one machine: several ``voice-letta serve`` processes on any number of machines share one
database (docs/deploy.md). It keeps the SQLite store's contract (tests/integration/store run against both) and its
row codecs; what differs is in each mixin's docstring (per-agent seq counters, BM25 over tsvector with per-agent
statistics, ``FOR UPDATE SKIP LOCKED`` claims, ``LISTEN``/``NOTIFY`` for the change log).
"""

from __future__ import annotations

import asyncio
import logging

from voice_letta import ids
from voice_letta.store.postgres.agents import AgentsMixin
from voice_letta.store.postgres.changes import ChangesMixin
from voice_letta.store.postgres.db import connect, migrate, translate_errors
from voice_letta.store.postgres.imports import ImportsMixin
from voice_letta.store.postgres.jobs import JobsMixin
from voice_letta.store.postgres.messages import MessagesMixin
from voice_letta.store.postgres.passages import PassagesMixin
from voice_letta.store.postgres.request_keys import RequestKeysMixin
from voice_letta.store.postgres.search import SearchMixin

log = logging.getLogger(__name__)


class PostgresStore(AgentsMixin, MessagesMixin, ImportsMixin, PassagesMixin, SearchMixin, JobsMixin, ChangesMixin,
                    RequestKeysMixin):
    """Implements ``voice_letta.agent.ports.Store``. Build it with ``open_pg_store(url)``."""

    async def pgvector_available(self) -> bool:
        """Whether the server offers the pgvector extension. Vectors are searched in memory either way (the
        same index as with SQLite); this is reported so an operator knows the option exists."""
        found = await self._fetch("pgvector_available",
                                  "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        return bool(found)


async def open_pg_store(url: str, *, origin: str | None = None) -> PostgresStore:
    """Connect to ``url`` (``postgresql://user:password@host:port/database``) and migrate the schema."""
    origin = origin or ids.worker_id()
    pool = await connect(url, origin=origin)
    try:
        await migrate(pool)
    except BaseException:
        with translate_errors("closing the database"):
            await asyncio.shield(pool.close())
        raise
    store = PostgresStore(pool, url, origin=origin)
    if await store.pgvector_available():
        log.info("PostgreSQL offers pgvector; voice-letta searches vectors in memory and does not need it")
    return store
