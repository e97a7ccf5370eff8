"""Numbered SQL migrations shipped as package data, shared by the store backends.

Each backend keeps its files in its own ``migrations/`` directory (``0001_init.sql``, ...; a SQLite migration
needs a PostgreSQL twin) and applies them its own way; finding and ordering them is the same for both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from voice_letta.errors import StorageError

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_packaged(package: str) -> list[Migration]:
    """The migration files of ``package``/migrations, ordered by version. Blocking: call through ``to_thread``."""
    found: list[Migration] = []
    for entry in resources.files(package).joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match is not None:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise StorageError(f"duplicate migration versions: {versions}")
    return found
