"""`serve --log-format json`: one JSON object per line, naming the request, agent and turn it is about."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import aiohttp

from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.openai_server import FakeOpenAIServer, HttpError, Text
from tests.integration.test_cli import CLI, free_port


async def test_json_logs_carry_request_agent_and_turn_ids(tmp_path: Path, fake_openai: FakeOpenAIServer,
                                                          fake_anthropic: FakeAnthropicServer) -> None:
    port = free_port()
    env = {**os.environ, "OPENAI_API_KEY": "sk-fake", "ANTHROPIC_API_KEY": "sk-ant-fake"}
    env.pop("VOICE_LETTA_API_KEY", None)
    proc = await asyncio.create_subprocess_exec(
        *CLI, "serve", "--port", str(port), "--db", str(tmp_path / "logs.db"), "--no-preload", "--no-default-agent",
        "--workers", "1", "--log-format", "json", env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(600):
                try:
                    async with s.get(f"{url}/health") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
            llm = {"provider": "openai", "model": "gpt-x", "base_url": fake_openai.base_url,
                   "fallback": {"provider": "anthropic", "model": "claude-fake", "base_url": fake_anthropic.base_url}}
            async with s.post(f"{url}/v1/agents", json={"name": "logged", "llm": llm}) as r:
                agent = await r.json()
            fake_openai.script([HttpError(503, "down")])  # the failover logs a warning inside the turn
            fake_anthropic.script([Text("Fine.")])
            async with s.post(f"{url}/v1/chat/completions", headers={"X-Request-Id": "req-logs-1"}, json={
                    "model": agent["id"], "messages": [{"role": "user", "content": "Hi"}]}) as r:
                assert r.status == 200 and r.headers["X-Request-Id"] == "req-logs-1"
    finally:
        proc.terminate()
        _, err = await proc.communicate()
    lines = [json.loads(line) for line in err.decode().splitlines() if line.strip()]  # every line is JSON
    failover = next(x for x in lines if "trying anthropic/claude-fake" in x["message"])
    assert failover["level"] == "WARNING" and failover["logger"] == "voice_letta.providers.fallback"
    assert failover["agent_id"] == agent["id"] and failover["turn_id"].startswith("turn-")
    assert failover["request_id"] == "req-logs-1"
