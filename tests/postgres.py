"""A real PostgreSQL for the tests: a throwaway cluster started on first use, or the server in VOICE_LETTA_TEST_PG.

    async def test_x(pg_databases):
        url = await pg_databases.create()      # a fresh, empty database; dropped after the test

``VOICE_LETTA_TEST_PG=postgresql://user@host:port/postgres`` names a server the tests may create databases on.
Without it, the first test that asks starts a cluster of the installed PostgreSQL (``initdb`` in a temporary
directory, as the ``postgres`` user when running as root since initdb refuses root; ``pg_ctl start`` on a free
loopback port and a Unix socket in that directory; fsync off) and the session stops it at the end. With no
PostgreSQL installed such tests are skipped, unless ``VOICE_LETTA_REQUIRE_PG=1`` (CI sets it): then they fail.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

PG_ENV = "VOICE_LETTA_TEST_PG"
REQUIRE_ENV = "VOICE_LETTA_REQUIRE_PG"
START_TIMEOUT_S = 60


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).resolve().parent if pg_ctl else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """Started on first ``url()``; skips (or fails, with VOICE_LETTA_REQUIRE_PG=1) when there is no PostgreSQL."""

    def __init__(self) -> None:
        self._url: str | None = os.environ.get(PG_ENV) or None
        self._dir: Path | None = None
        self._bin: Path | None = None
        self._error: str | None = None

    def url(self) -> str:
        if self._url is None and self._error is None:
            try:
                self._start()
            except (OSError, subprocess.SubprocessError) as exc:
                self._error = f"could not start PostgreSQL: {exc}"
        if self._url is None:
            reason = self._error or "no PostgreSQL installed (apt-get install postgresql, or set VOICE_LETTA_TEST_PG)"
            if os.environ.get(REQUIRE_ENV) == "1":
                pytest.fail(reason)
            pytest.skip(reason)
        return self._url

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=START_TIMEOUT_S)

    def _start(self) -> None:
        self._bin = _bin_dir()
        if self._bin is None:
            self._error = "no PostgreSQL installed (apt-get install postgresql, or set VOICE_LETTA_TEST_PG)"
            return
        self._dir = Path(tempfile.mkdtemp(prefix="vl-pg-"))
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self._dir, user.pw_uid, user.pw_gid)
        data, port = self._dir / "data", _free_port()
        try:
            self._run(str(self._bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync",
                      "-E", "UTF8", "--locale=C")
        except subprocess.CalledProcessError as exc:
            raise OSError(exc.stderr.decode(errors="replace")[-400:]) from exc
        options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {self._dir} -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=300")
        try:
            self._run(str(self._bin / "pg_ctl"), "-D", str(data), "-l", str(self._dir / "log"), "-w",
                      "-t", str(START_TIMEOUT_S), "-o", options, "start")
        except subprocess.CalledProcessError as exc:
            log = (self._dir / "log").read_text(errors="replace")[-800:] if (self._dir / "log").exists() else ""
            raise OSError(f"pg_ctl start failed: {exc.stderr.decode(errors='replace')} {log}") from exc
        self._url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def stop(self) -> None:
        if self._dir is not None and self._bin is not None:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                self._run(str(self._bin / "pg_ctl"), "-D", str(self._dir / "data"), "-m", "immediate", "stop")
            shutil.rmtree(self._dir, ignore_errors=True)


class Databases:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.created: list[str] = []

    async def create(self) -> str:
        import asyncpg

        admin = self.cluster.url()
        name = f"vl_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.created.append(name)
        return admin.rsplit("/", 1)[0] + f"/{name}"

    async def drop_all(self) -> None:
        import asyncpg

        if not self.created:
            return
        conn = await asyncpg.connect(self.cluster.url())
        try:
            for name in self.created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    cluster = Cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def pg_databases(pg_cluster: Cluster) -> AsyncIterator[Databases]:
    databases = Databases(pg_cluster)
    try:
        yield databases
    finally:
        await databases.drop_all()
