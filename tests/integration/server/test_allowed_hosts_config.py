"""--allowed-host / VOICE_LETTA_ALLOWED_HOSTS as people write them (a real ``voice-letta serve`` process). The
address copied from the browser ("https://app.example.com/") made serve print "listening on …" and then die with a
traceback ("not a host name"); a name that is no host name at all did the same."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp

from tests.integration.serve_process import ROOT, free_port, wait_healthy


async def test_an_allowed_host_given_as_a_url_is_its_host_name(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "VOICE_LETTA_ALLOWED_HOSTS": "https://voice.example.com/, api.example.com"}
    env.pop("VOICE_LETTA_API_KEY", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_letta.cli", "serve", "--port", str(port), "--no-preload", "--workers", "1",
        "--db", str(tmp_path / "v.db"), "--allowed-host", "http://lan-box:8765", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        await wait_healthy(f"http://127.0.0.1:{port}", proc)
        async with aiohttp.ClientSession() as s:
            for host, status in (("voice.example.com", 200), ("api.example.com", 200), ("lan-box:8765", 200),
                                 ("evil.example.com", 421)):
                async with s.get(f"http://127.0.0.1:{port}/v1/models", headers={"Host": host}) as r:
                    assert r.status == status, (host, r.status, await r.text())
    finally:
        proc.terminate()
        await proc.wait()


async def test_an_allowed_host_that_is_no_host_name_is_one_line_before_serving(tmp_path: Path) -> None:
    env = {**os.environ}
    env.pop("VOICE_LETTA_API_KEY", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_letta.cli", "serve", "--port", str(free_port()), "--no-preload", "--workers", "1",
        "--db", str(tmp_path / "v.db"), "--allowed-host", "my app!", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode != 0
    assert "not a host name: 'my app!'" in err.decode() and "Traceback" not in err.decode(), err.decode()
    assert b"listening" not in out, out  # before: "voice-letta listening on …", then the traceback
