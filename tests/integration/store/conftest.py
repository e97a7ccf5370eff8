"""The store contract tests run against every backend: a SQLite file in ``tmp_path`` and a fresh PostgreSQL database
(tests/postgres.py). Modules that test one backend's own machinery override ``store`` with that backend only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.postgres import Databases
from voice_letta.store import open_any_store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "dir" / "voice-letta.db"


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, db_path: Path, pg_databases: Databases) -> str:
    """Where the store under test lives: a SQLite file path or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(db_path)
    return await pg_databases.create()


@pytest.fixture
async def store(database: str) -> AsyncIterator[Any]:
    s = await open_any_store(database)
    try:
        yield s
    finally:
        await s.aclose()


@pytest.fixture
async def other(database: str, store: Any) -> AsyncIterator[Any]:
    """A second connection to the same database under another worker id: what another server process sees."""
    s = await open_any_store(database, origin="other-process")
    try:
        yield s
    finally:
        await s.aclose()
