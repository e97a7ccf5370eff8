"""A second ``voice-letta serve`` on a port another one serves (another terminal, another database). The workers
share their port with SO_REUSEPORT, so the second server started silently and the kernel split the requests
between the two: the agents of one database appeared and vanished at random (`GET /v1/agents` alternated 1 and 0).
With one worker it was a traceback. Now the second says so in one line and exits (real serve processes)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.integration.serve_process import ROOT, ServerProcess


class Slow(ServerProcess):
    start_timeout_s = 90.0  # a fresh process on a shared machine


async def test_a_second_server_on_a_served_port_says_so_and_exits(tmp_path: Path) -> None:
    first = Slow(tmp_path / "first.db")
    await first.start("--workers", "2", "--no-default-agent")
    try:
        status, _ = await first.request("POST", "/v1/agents", json={"name": "mine"})
        assert status == 201
        for workers in ("2", "1"):
            env = {**os.environ}
            env.pop("VOICE_LETTA_API_KEY", None)
            second = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "voice_letta.cli", "serve", "--port", str(first.port), "--workers", workers,
                "--no-preload", "--db", str(tmp_path / "second.db"), cwd=ROOT, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            try:
                out, err = await asyncio.wait_for(second.communicate(), 60)  # before: it served (workers 2)
            finally:
                if second.returncode is None:
                    second.kill()
                    await second.wait()
            text = err.decode()
            assert second.returncode != 0 and "cannot listen on" in text and "Traceback" not in text, (workers, text)
            assert b"listening" not in out
        for _ in range(6):  # every request reaches the first server's database
            status, agents = await first.request("GET", "/v1/agents")
            assert status == 200 and [a["name"] for a in agents["data"]] == ["mine"], agents
    finally:
        await first.stop()
