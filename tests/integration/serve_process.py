"""One real ``voice-letta serve`` process on a fixed port and a database file, for restart and signal tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_healthy(url: str, proc: asyncio.subprocess.Process | None = None, timeout_s: float = 90.0) -> None:
    """Until ``url``/health answers 200 (a fresh process on a shared machine may take a while to start serving);
    fails at once when ``proc`` exited instead."""
    async with asyncio.timeout(timeout_s), aiohttp.ClientSession() as s:
        while True:
            assert proc is None or proc.returncode is None, "serve exited"
            try:
                async with s.get(url + "/health") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)


class ServerProcess:
    """Started with ``start(*serve_flags)``; the same port and database survive a kill and a restart."""

    ready_path = "/health"  # answered 200 once the server serves
    start_timeout_s = 30.0

    def __init__(self, db: Path, port: int | None = None) -> None:
        self.db, self.port = db, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: asyncio.subprocess.Process | None = None

    def env(self) -> dict[str, str]:
        env = {**os.environ, "FAKE_OPENAI_KEY": "sk-fake", "PYTHONUNBUFFERED": "1"}
        env.pop("VOICE_LETTA_API_KEY", None)
        return env

    async def start(self, *flags: str) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voice_letta.cli", "serve", "--db", str(self.db), "--port", str(self.port),
            "--no-preload", *flags, cwd=ROOT, env=self.env(),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        async with asyncio.timeout(self.start_timeout_s):
            while True:
                try:
                    status, _ = await self.request("GET", self.ready_path)
                    if status == 200:
                        return
                except aiohttp.ClientError:
                    pass
                assert self.proc.returncode is None, "server exited"
                await asyncio.sleep(0.1)

    async def request(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as s, s.request(method, self.url + path, **kw) as r:
            return r.status, await r.json(content_type=None)

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(15):
                    await self.proc.wait()
            except TimeoutError:
                await self.kill()
