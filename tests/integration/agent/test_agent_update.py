"""PATCH /v1/agents/{id}: change an agent's model and settings while it keeps its memory; POST /v1/llm/check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.openai_server import HttpError, Pause, Text
from tests.integration.agent.conftest import Running, anthropic_llm, openai_llm, start_server


@pytest.fixture
async def claude() -> Any:
    server = FakeAnthropicServer()
    await server.start()
    yield server
    await server.aclose()


async def chat(server: Running, agent_id: str, text: str, history: list[dict[str, str]] | None = None) -> str:
    messages = [*(history or []), {"role": "user", "content": text}]
    completion = await server.client().chat.completions.create(model=agent_id, messages=messages)
    return completion.choices[0].message.content or ""


async def test_switching_model_and_provider_keeps_memory(server: Running, claude: FakeAnthropicServer) -> None:
    agent = await server.create_agent()
    server.fake.script([Text("Nice to meet you, Ada.")])
    reply = await chat(server, agent["id"], "I'm Ada.")
    status, _ = await server.request("PATCH", f"/v1/agents/{agent['id']}/blocks/human",
                                     json={"value": "The user is Ada."})
    assert status == 200
    # same provider, new model: only the model changes
    status, updated = await server.request("PATCH", f"/v1/agents/{agent['id']}", json={"llm": {"model": "gpt-new"}})
    assert status == 200, updated
    assert updated["llm"]["model"] == "gpt-new" and updated["llm"]["base_url"] == server.fake.base_url
    assert updated["llm"]["api_key_env"] == "FAKE_OPENAI_KEY"
    history = [{"role": "user", "content": "I'm Ada."}, {"role": "assistant", "content": reply}]
    await chat(server, agent["id"], "Who am I?", history)
    body = server.fake.requests[-1]
    assert body["model"] == "gpt-new"
    assert "The user is Ada." in body["messages"][0]["content"]  # the memory block
    assert [m["content"] for m in body["messages"][1:3]] == ["I'm Ada.", "Nice to meet you, Ada."]
    # another provider: its own base URL and key; the history goes along
    status, updated = await server.request("PATCH", f"/v1/agents/{agent['id']}", json={
        "llm": anthropic_llm(claude)})
    assert status == 200, updated
    assert updated["llm"]["provider"] == "anthropic" and updated["llm"]["base_url"] == claude.base_url
    claude.script([Text("You are Ada.")])
    assert await chat(server, agent["id"], "Say my name.") == "You are Ada."
    sent = claude.requests[-1]
    assert "The user is Ada." in sent["system"][0]["text"]
    assert sent["messages"][0]["content"][0]["text"] == "I'm Ada."
    assert [b["label"] for b in updated["blocks"]] == [b["label"] for b in agent["blocks"]]
    rows = await server.store.list_messages(agent["id"])
    assert len(rows) == 6


async def test_fallback_chain_is_set_replaced_and_removed(server: Running, claude: FakeAnthropicServer) -> None:
    agent = await server.create_agent()
    status, updated = await server.request("PATCH", f"/v1/agents/{agent['id']}", json={
        "fallback": [anthropic_llm(claude), openai_llm(server.fake, model="last-resort")],
        "llm": {"first_token_timeout_s": 0.3}})
    assert status == 200, updated
    chain = updated["llm"]["fallback"]
    assert chain["provider"] == "anthropic" and chain["fallback"]["model"] == "last-resort"
    server.fake.script([Pause(30)])
    claude.script([Text("From the fallback.")])
    assert (await chat(server, agent["id"], "Hi")).endswith("From the fallback.")
    status, updated = await server.request("PATCH", f"/v1/agents/{agent['id']}", json={"fallback": None})
    assert status == 200 and updated["llm"]["fallback"] is None
    assert updated["llm"]["first_token_timeout_s"] == 0.3


@pytest.mark.parametrize(("patch", "param"), [
    ({"llm": {"temperature": 3}}, "llm.temperature"),
    ({"llm": {"provider": "anthropic"}}, "llm.model"),
    ({"llm": {"api_key_env": "VOICE_LETTA_API_KEY"}}, "llm.api_key_env"),
    ({"fallback": [{"provider": "nope", "model": "x"}]}, "fallback.0.provider"),
    ({"buffer": {"max_messages": 10, "min_messages": 12}}, "buffer"),
    ({"turn_budget_s": 0}, "turn_budget_s"),
    ({"name": None}, "name"),
    ({"blocks": []}, "blocks"),
])
async def test_invalid_patches_are_400s_and_change_nothing(server: Running, patch: dict[str, Any],
                                                           param: str) -> None:
    agent = await server.create_agent()
    status, body = await server.request("PATCH", f"/v1/agents/{agent['id']}", json=patch)
    assert status == 400, body
    assert body["error"]["code"] == "invalid_request"
    assert param in body["error"]["message"]
    assert body["error"]["param"] == param  # the field, for clients that point at it (was null for top-level fields)
    status, now = await server.request("GET", f"/v1/agents/{agent['id']}")
    assert now == agent


async def test_memory_target_label_and_tools_are_validated_like_create(server: Running) -> None:
    agent = await server.create_agent()
    status, body = await server.request("PATCH", f"/v1/agents/{agent['id']}",
                                        json={"memory_target_label": "nowhere"})
    assert status == 400 and body["error"]["code"] == "invalid_config"
    status, body = await server.request("PATCH", f"/v1/agents/{agent['id']}", json={"tool_ids": ["tool-missing"]})
    assert status == 404
    status, body = await server.request("PATCH", "/v1/agents/agent-missing", json={"name": "x"})
    assert status == 404


async def test_settings_and_sleeptime_model_change(server: Running) -> None:
    agent = await server.create_agent()
    status, updated = await server.request("PATCH", f"/v1/agents/{agent['id']}", json={
        "name": "renamed", "system": "Be terse.", "turn_budget_s": 20, "max_tool_rounds": 2,
        "sleeptime_llm": {"model": "cheap-model"}, "buffer": {"max_messages": 40},
        "client_system_prompt": "append"})
    assert status == 200, updated
    assert updated["name"] == "renamed" and updated["system"] == "Be terse." and updated["turn_budget_s"] == 20
    assert updated["sleeptime_llm"]["model"] == "cheap-model"
    assert updated["sleeptime_llm"]["base_url"] == server.fake.base_url  # patched over the agent's own llm
    assert updated["buffer"]["max_messages"] == 40 and updated["buffer"]["min_messages"] == 15
    await chat(server, "renamed", "Hi")
    assert server.fake.requests[-1]["messages"][0]["content"].startswith("Be terse.")
    status, updated = await server.request("PATCH", f"/v1/agents/{agent['id']}", json={"sleeptime_llm": None})
    assert status == 200 and updated["sleeptime_llm"] is None


async def test_embedding_change_follows_the_reembed_rules(server: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_OPENAI_KEY", "sk-fake")  # the embedder's key comes from the server's environment
    agent = await server.create_agent()
    status, body = await server.request("PATCH", f"/v1/agents/{agent['id']}",
                                        json={"embedding": {"model": "some-other-local-model"}})
    assert status == 400 and body["error"]["code"] == "invalid_config"
    status, body = await server.request("PATCH", f"/v1/agents/{agent['id']}", json={
        "embedding": {"provider": "openai", "model": "text-embedding-3-small", "dim": 1536,
                      "base_url": server.fake.base_url, "api_key_env": "FAKE_OPENAI_KEY"}})
    assert status == 200, body
    assert body["embedding"]["model"] == "text-embedding-3-small" and body["to_reembed"] == 0


async def test_patch_needs_the_key(tmp_path: Path, fake_openai: Any) -> None:
    running, runner = await start_server(tmp_path, fake_openai, api_key="secret-key")
    try:
        agent = await running.create_agent()
        running.api_key = None
        status, body = await running.request("PATCH", f"/v1/agents/{agent['id']}", json={"name": "x"})
        assert status == 401
        status, body = await running.request("POST", "/v1/llm/check", json=openai_llm(fake_openai))
        assert status == 401
        running.api_key = "secret-key"
        status, token = await running.request("POST", "/v1/tokens", json={"agent": agent["id"],
                                                                           "scopes": ["read", "voice"]})
        assert status == 200
        running.api_key = token["token"]  # a scoped token reads, never reconfigures
        status, body = await running.request("PATCH", f"/v1/agents/{agent['id']}", json={"name": "x"})
        assert status in (401, 403)
        running.api_key = "secret-key"
        status, body = await running.request("PATCH", f"/v1/agents/{agent['id']}", json={"name": "x"})
        assert status == 200 and body["name"] == "x"
    finally:
        await runner.cleanup()


async def test_llm_check_tries_every_model_of_the_chain(server: Running, claude: FakeAnthropicServer) -> None:
    server.fake.script([Text("OK")])
    claude.script([HttpError(401, "invalid x-api-key")])
    status, report = await server.request("POST", "/v1/llm/check", json={
        **openai_llm(server.fake), "fallback": anthropic_llm(claude)})
    assert status == 200, report
    assert report["ok"] is True
    first, second = report["results"]
    assert first["ok"] and first["reply"] == "OK" and first["first_token_ms"] > 0 and not first["warnings"]
    assert server.fake.requests[-1]["max_tokens"] == 8
    assert not second["ok"] and second["error"]["code"] == "provider_auth_failed"
    assert "invalid x-api-key" in second["error"]["message"]


async def test_llm_check_reports_a_slow_first_token_and_a_missing_key(server: Running) -> None:
    server.fake.script([Pause(0.4), Text("OK")])
    status, report = await server.request("POST", "/v1/llm/check", json=openai_llm(
        server.fake, first_token_timeout_s=0.1))
    assert status == 200 and report["ok"]
    assert "first_token_timeout_s" in report["results"][0]["warnings"][0]
    status, report = await server.request("POST", "/v1/llm/check", json=openai_llm(
        server.fake, api_key_env="NOT_SET_ANYWHERE"))
    assert status == 200 and report["ok"] is False
    assert report["results"][0]["error"]["code"] == "invalid_config"
    assert "NOT_SET_ANYWHERE" in report["results"][0]["error"]["message"]


async def test_llm_check_says_when_an_ollama_model_has_no_tools(server: Running) -> None:
    from tests.fakes.ollama_server import FakeOllamaServer

    ollama = FakeOllamaServer(show={"gemma:2b": {"capabilities": ["completion"]}})
    await ollama.start()
    try:
        status, report = await server.request("POST", "/v1/llm/check", json={
            "provider": "ollama", "model": "gemma:2b", "base_url": ollama.root_url})
        assert status == 200 and report["ok"], report
        assert "no 'tools' capability" in report["results"][0]["warnings"][0]
    finally:
        await ollama.aclose()
