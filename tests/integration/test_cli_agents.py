"""`voice-letta agents create --check|show|update|delete` as real processes against a real server process."""

from __future__ import annotations

import json

import aiohttp

from tests.fakes.openai_server import FakeOpenAIServer, HttpError, Text
from tests.integration.test_cli import run, served  # noqa: F401 - the served fixture


async def rest(url: str, env: dict[str, str], method: str, path: str) -> tuple[int, object]:
    headers = {"Authorization": f"Bearer {env['VOICE_LETTA_API_KEY']}"}
    async with aiohttp.ClientSession(headers=headers) as s, s.request(method, url + path) as r:
        return r.status, await r.json()


async def test_update_round_trip_keeps_memory(served: tuple[str, dict[str, str]],  # noqa: F811
                                              fake_openai: FakeOpenAIServer) -> None:
    url, env = served
    code, out, err = await run("agents", "create", "--name", "keeper", "--provider", "openai", "--model",
                               "fake-model", "--base-url", fake_openai.base_url, "--human", "The user is Ada.",
                               env=env)
    assert code == 0, err
    agent_id = out.strip().splitlines()[-1]
    fake_openai.script([Text("Hi Ada.")])
    code, out, err = await run("chat", agent_id, "-m", "Hello, I'm Ada.", env=env)
    assert code == 0 and "Hi Ada." in out, err

    code, out, err = await run("agents", "update", "keeper", "--model", "better-model", "--temperature", "0.2",
                               "--first-token-timeout-s", "2.5", "--timeout-s", "12", "--max-tokens", "120",
                               "--max-retries", "1", "--api-key-env", "OPENAI_API_KEY",
                               "--fallback", f"openai/backup-model@{fake_openai.base_url}", env=env)
    assert code == 0, err
    assert "openai/better-model" in out and "fallback 1 openai/backup-model" in out
    code, out, err = await run("agents", "show", agent_id, "--json", env=env)
    assert code == 0, err
    agent = json.loads(out)
    llm = agent["llm"]
    assert (llm["model"], llm["temperature"], llm["first_token_timeout_s"], llm["timeout_s"], llm["max_tokens"],
            llm["max_retries"], llm["api_key_env"]) == ("better-model", 0.2, 2.5, 12, 120, 1, "OPENAI_API_KEY")
    assert llm["base_url"] == fake_openai.base_url and llm["fallback"]["model"] == "backup-model"
    assert next(b for b in agent["blocks"] if b["label"] == "human")["value"] == "The user is Ada."
    status, messages = await rest(url, env, "GET", f"/v1/agents/{agent_id}/messages")
    assert status == 200 and [m["content"] for m in messages["data"]] == ["Hello, I'm Ada.", "Hi Ada."]

    fake_openai.script([Text("Still Ada.")])
    code, out, err = await run("chat", "keeper", "-m", "Who am I?", env=env)
    assert code == 0 and "Still Ada." in out, err
    assert fake_openai.requests[-1]["model"] == "better-model"
    assert fake_openai.requests[-1]["messages"][1]["content"] == "Hello, I'm Ada."

    code, out, err = await run("agents", "update", agent_id, "--no-fallback", "--first-token-timeout-s", "off",
                               env=env)
    assert code == 0, err
    code, out, _ = await run("agents", "show", agent_id, "--json", env=env)
    llm = json.loads(out)["llm"]
    assert llm["fallback"] is None and llm["first_token_timeout_s"] == 0 and llm["model"] == "better-model"

    code, out, err = await run("agents", "update", agent_id, "--temperature", "9", env=env)
    assert code != 0 and "400" in err and "temperature" in err

    code, out, err = await run("agents", "update", agent_id, "--timezone", "america/los_angeles", env=env)
    assert code == 0 and "timezone  America/Los_Angeles" in out, err
    code, out, err = await run("agents", "update", agent_id, "--timezone", "PST", env=env)
    assert code != 0 and "400" in err and "timezone" in err

    code, out, err = await run("agents", "delete", agent_id, "--yes", env=env)
    assert code == 0 and "deleted" in out, err
    code, out, _ = await run("agents", "list", "--json", env=env)
    assert code == 0 and json.loads(out) == []
    code, _, err = await run("agents", "show", agent_id, env=env)
    assert code != 0 and "no agent" in err


async def test_create_check_creates_nothing_when_the_model_does_not_answer(
        served: tuple[str, dict[str, str]], fake_openai: FakeOpenAIServer) -> None:  # noqa: F811
    _, env = served
    fake_openai.script([HttpError(401, "invalid api key")])
    code, out, err = await run("agents", "create", "--name", "broken", "--provider", "openai", "--model", "m",
                               "--base-url", fake_openai.base_url, "--check", env=env)
    assert code == 1
    assert "FAIL  openai/m: provider_auth_failed" in out and "not created" in err
    code, out, _ = await run("agents", "list", "--json", env=env)
    assert json.loads(out) == []

    fake_openai.script([Text("OK")])
    code, out, err = await run("agents", "create", "--name", "works", "--provider", "openai", "--model", "m",
                               "--base-url", fake_openai.base_url, "--check", env=env)
    assert code == 0, err
    assert "ok    openai/m: first token" in out and out.strip().splitlines()[-1].startswith("agent-")
