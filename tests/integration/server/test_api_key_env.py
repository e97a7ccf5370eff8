"""The API key as people set it: from a .env file written on Windows (``docker run --env-file`` keeps the ``\\r`` of
each CRLF line), and sent by hand-written clients as ``bearer <key>`` (the scheme is case-insensitive, RFC 9110
§11.1). Before, the server's key was "k-123\\r": every request was a 401 that said nothing about why, and the CLI
with the same environment could not even send its header (real ``voice-letta serve`` process, real CLI)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.integration.serve_process import ROOT, ServerProcess

KEY = "k-123"


class CrlfKeyServer(ServerProcess):
    start_timeout_s = 90.0  # a fresh process imports the whole server; the test machine is shared
    def env(self) -> dict[str, str]:
        return {**super().env(), "VOICE_LETTA_API_KEY": KEY + "\r"}


async def test_a_key_with_a_carriage_return_from_an_env_file_still_opens_the_server(tmp_path: Path) -> None:
    server = CrlfKeyServer(tmp_path / "k.db")
    await server.start()
    try:
        for header in (f"Bearer {KEY}", f"bearer {KEY}", f"BEARER  {KEY}"):
            status, body = await server.request("GET", "/v1/agents", headers={"Authorization": header})
            assert status == 200, (header, body)
        status, _ = await server.request("GET", "/v1/agents", headers={"Authorization": "Bearer k-12"})
        assert status == 401
        status, _ = await server.request("GET", "/v1/agents")
        assert status == 401
        cli = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voice_letta.cli", "agents", "list", "--url", server.url, cwd=ROOT,
            env={**os.environ, "VOICE_LETTA_API_KEY": KEY + "\r"},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await cli.communicate()
        assert cli.returncode == 0, (out, err)
        cli = await asyncio.create_subprocess_exec(  # `chat` sends the key through the openai SDK
            sys.executable, "-m", "voice_letta.cli", "chat", "nobody", "-m", "hi", "--url", server.url, cwd=ROOT,
            env={**os.environ, "VOICE_LETTA_API_KEY": KEY + "\r"},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await cli.communicate()
        assert b"nobody" in out + err and b"control character" not in out + err, (out, err)  # 404, not the header
    finally:
        await server.stop()
