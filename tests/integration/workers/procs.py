"""Real ``voice-letta serve`` processes for the multi-process tests: start, call, read the database, kill."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import aiohttp

from tests.fakes.openai_server import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[3]
FAKE_KEY = {"FAKE_OPENAI_KEY": "sk-fake"}
_STARTED = re.compile(r"worker (\d+) started \(pid (\d+), id (\S+)\)")
_LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


def openai_llm(fake: FakeOpenAIServer, model: str = "fake-model") -> dict[str, Any]:
    return {"provider": "openai", "model": model, "base_url": fake.base_url, "api_key_env": "FAKE_OPENAI_KEY",
            "max_retries": 0}


class Serve:
    """``voice-letta serve --port 0 --workers N`` on a database; its log is kept to find workers by id."""

    def __init__(self, db: str, log_path: Path, *, workers: int = 1) -> None:
        self.db, self.log_path, self.workers = db, log_path, workers
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""

    async def start(self) -> None:
        env = {**os.environ, **FAKE_KEY, "PYTHONUNBUFFERED": "1"}
        env.pop("VOICE_LETTA_API_KEY", None)
        self.log_path.write_bytes(b"")
        log = await asyncio.to_thread(open, self.log_path, "ab")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "voice_letta.cli", "serve", "--db", self.db, "--port", "0", "--no-preload",
                "--no-default-agent", "--workers", str(self.workers), cwd=ROOT, env=env, stdout=log, stderr=log)
        finally:
            log.close()
        async with asyncio.timeout(60):
            while not self.url:
                assert self.proc.returncode is None, self.log()
                if match := _LISTENING.search(self.log()):
                    self.url = f"http://127.0.0.1:{match.group(1)}"
                await asyncio.sleep(0.1)
            await self.wait_healthy(self.workers)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_healthy(self, answers: int = 1) -> None:
        """Until ``answers`` fresh connections in a row got a 200 from /health."""
        ok = 0
        while ok < answers * 4:
            try:
                async with aiohttp.ClientSession() as s, s.get(self.url + "/health") as r:
                    ok = ok + 1 if r.status == 200 else 0
            except aiohttp.ClientError:
                ok = 0
                await asyncio.sleep(0.1)

    def worker_pids(self) -> dict[str, int]:
        """Worker id -> pid, from the supervisor's log (every worker ever started)."""
        return {m.group(3): int(m.group(2)) for m in _STARTED.finditer(self.log())}

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as s, s.request(method, self.url + path, **kw) as r:
            return r.status, await r.json(content_type=None)

    async def create_agent(self, fake: FakeOpenAIServer, **body: Any) -> str:
        body.setdefault("name", "shared")
        body.setdefault("llm", openai_llm(fake))
        status, agent = await self.call("POST", "/v1/agents", json=body)
        assert status == 201, agent
        return str(agent["id"])

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(40):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def _sqlite_query(db: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


async def query(db: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read the shared database (SQLite file or PostgreSQL URL) the way an operator would: its own connection.
    ``sql`` uses ``?`` placeholders."""
    if not db.startswith("postgresql://"):
        return await asyncio.to_thread(_sqlite_query, db, sql, *params)
    import asyncpg

    numbered = re.sub(r"\?", lambda _m, n=iter(range(1, 100)): f"${next(n)}", sql)
    conn = await asyncpg.connect(db)
    try:
        return [tuple(r) for r in await conn.fetch(numbered, *params)]
    finally:
        await conn.close()
