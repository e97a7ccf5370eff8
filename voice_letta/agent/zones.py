"""An agent's time zone: an IANA name ("America/Los_Angeles", "Pacific/Auckland", "UTC") checked against the
zoneinfo database (the system's, else the ``tzdata`` package), and the ``ZoneInfo`` for it.

Days in memory questions ("yesterday", "this morning", "last tuesday"), the dates ``search_memory`` shows and the
"Current time" note of every request are in the agent's zone (``AgentState.timezone``, default UTC).
"""

from __future__ import annotations

import contextlib
import os
import zoneinfo
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from functools import cache

DEFAULT_ZONE = "UTC"


@cache
def _names() -> dict[str, str]:
    """Every zone name the database has, by its lower-case form (read once: listing scans the database)."""
    return {name.lower(): name for name in zoneinfo.available_timezones() | {DEFAULT_ZONE}}


def load_names() -> None:
    """Read the zone database's names now (~600 files, 10+ ms): the server calls it off the event loop at start, so
    the first agent request that names a zone does not scan the disk on the loop."""
    _names()


def canonical_zone(name: str) -> str:
    """The database's spelling of ``name`` (case-insensitive: "america/new_york" is "America/New_York"); a
    ``ValueError`` naming an example for anything that is not an IANA zone name ("PST", "+02:00", "Mars/Base")."""
    found = _names().get(name.strip().lower()) if isinstance(name, str) else None
    if found is None or found in ("localtime", "posixrules", "Factory"):
        raise ValueError(f"{name!r} is not an IANA time zone name (e.g. \"America/Los_Angeles\", \"Europe/Berlin\", "
                         "\"UTC\")")
    return found


@cache
def zone(name: str | None) -> tzinfo:
    """The tzinfo of a zone name (UTC for None, "UTC" or a name the database no longer has)."""
    if not name or name == DEFAULT_ZONE:
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC


# The range a datetime holds (years 1 to 9999), a day inside it for any zone's offset.
_FIRST_TS = datetime(1, 1, 2, tzinfo=UTC).timestamp()
_LAST_TS = datetime(9999, 12, 30, tzinfo=UTC).timestamp()


def local(ts: float, name: str | None) -> datetime:
    """Epoch seconds as an aware datetime in the zone; a time past the years a datetime holds (a passage stored with
    start_at 1e15 before the REST check, d24ab8a) as the nearest it holds: dating a memory never fails the turn that
    shows it ("year 31690708 is out of range" ended every turn whose search_memory listed such a passage)."""
    clamped = min(max(ts, _FIRST_TS), _LAST_TS) if ts == ts else _FIRST_TS  # NaN: ts != ts
    return datetime.fromtimestamp(clamped, tz=zone(name))


def host_zone(env: Mapping[str, str] = os.environ, localtime: str = "/etc/localtime",
              timezone_file: str = "/etc/timezone") -> str:
    """The machine's own zone name, for agents made without one by ``serve`` itself (its first-run agent): ``TZ``
    when it is an IANA name (":America/Los_Angeles" too), else the zone ``/etc/localtime`` links to, else
    ``/etc/timezone`` (Debian), else UTC. A laptop user in Los Angeles then gets their own days without setting
    anything; a server in UTC is unchanged. Reads the file system: call it off the event loop."""
    candidates = [env.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        target = os.readlink(localtime)
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    with contextlib.suppress(OSError, UnicodeDecodeError), open(timezone_file, encoding="utf-8") as f:
        candidates.append(f.read().strip())
    for name in candidates:
        if name:
            with contextlib.suppress(ValueError):
                found = canonical_zone(name)
                return DEFAULT_ZONE if found in _UTC_NAMES else found
    return DEFAULT_ZONE


_UTC_NAMES = frozenset({"Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "UCT", "Universal", "Zulu"})
