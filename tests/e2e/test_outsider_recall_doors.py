"""What an outsider met through the documented doors (session 17), each over a real socket: the user's own time words
decide the window of ``search_memory`` over the model's guessed bounds; ``serve`` says "listening" once it accepts."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from tests.fakes.openai_server import Text, ToolCall
from tests.integration.agent.conftest import Running

ROOT = Path(__file__).resolve().parents[2]


async def _send(url: str, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.request(method, url + path, json=body) as r:
        return r.status, await r.json()


async def test_the_users_yesterday_wins_over_the_models_guessed_minutes(server: Running) -> None:
    """Seen with the embedded model: for "What did I tell you yesterday?" it called ``search_memory`` with
    ``start_minutes_ago: 12, end_minutes_ago: 8`` (a guess: the schema wants an integer or null), and that window
    was searched instead of the user's yesterday: "No memories matched" although yesterday's lines were archived.
    README: the window is read from the user's words, else from the model's arguments."""
    agent = await server.create_agent(name="tokyo", timezone="Asia/Tokyo")  # the model: the fake OpenAI server
    zone = ZoneInfo("Asia/Tokyo")
    today = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday_noon = (today - timedelta(hours=12)).timestamp()
    three_days_ago = (today - timedelta(days=3) + timedelta(hours=12)).timestamp()
    status, made = await _send(server.url, "POST", f"/v1/agents/{agent['id']}/archival/batch", {"passages": [
        {"text": "user: My dentist is Dr Kato in Shinjuku.", "start_at": yesterday_noon},
        {"text": "user: My bike lock code is 4417.", "start_at": three_days_ago}]})
    assert status == 201, made
    guess = json.dumps({"pre_exec_msg": "Let me check.", "convo_keyword_queries": ["array"],
                        "start_minutes_ago": 12, "end_minutes_ago": 8})
    server.fake.script([ToolCall("search_memory", guess)], [Text("You told me about your dentist.")])
    before = len(server.fake.requests)
    reply = await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "What did I tell you yesterday?"}])
    assert reply.choices[0].message.content == "Let me check. You told me about your dentist."
    result = server.fake.requests[before + 1]["messages"][-1]
    assert result["role"] == "tool", result
    assert "Dr Kato" in result["content"], result["content"]
    assert "4417" not in result["content"] and "No memories matched" not in result["content"]


async def test_the_models_bounds_still_count_when_the_user_names_no_time(server: Running) -> None:
    """The model's window stays the window when the user's words name none ("When did I go running?" with bounds
    from the conversation): only a time the user says overrides it."""
    agent = await server.create_agent(name="runner")
    now = time.time()
    status, made = await _send(server.url, "POST", f"/v1/agents/{agent['id']}/archival/batch", {"passages": [
        {"text": "user: I ran the Berlin marathon.", "start_at": now - 3 * 86400},
        {"text": "user: I ran a 5k in the park.", "start_at": now - 3600}]})
    assert status == 201, made
    last_day = json.dumps({"pre_exec_msg": "Let me check.", "convo_keyword_queries": ["ran"],
                           "start_minutes_ago": 0, "end_minutes_ago": 24 * 60})
    server.fake.script([ToolCall("search_memory", last_day)], [Text("A 5k.")])
    before = len(server.fake.requests)
    await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "When did I go running?"}])
    result = server.fake.requests[before + 1]["messages"][-1]["content"]
    assert "5k" in result and "Berlin" not in result, result


async def test_serve_with_workers_says_listening_only_once_it_accepts(tmp_path: Any) -> None:
    """``voice-letta serve`` (one worker per core by default) printed "listening on http://127.0.0.1:18767" about 80 s
    before the port accepted (the supervisor only holds the port; the workers were still loading): a browser or a
    script that went by the line met "connection refused". Now the line comes once a worker accepts."""
    env = {k: v for k, v in os.environ.items() if k != "VOICE_LETTA_API_KEY"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_letta.cli", "serve", "--db", str(tmp_path / "s.db"), "--port", "0",
        "--workers", "2", "--no-preload", "--no-default-agent", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(240):
            while not (match := re.search(rb"listening on (http://\S+)", await proc.stdout.readline())):
                assert proc.returncode is None
        async with aiohttp.ClientSession() as http, http.get(match.group(1).decode() + "/health") as r:
            assert r.status == 200  # at once: no "connection refused"
    finally:
        proc.terminate()
        async with asyncio.timeout(60):
            await proc.wait()
