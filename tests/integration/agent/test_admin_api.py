"""REST for agents, blocks and messages; shared blocks; cascade delete; access control; Anthropic agents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.openai_server import FakeOpenAIServer, Text, ToolCall
from tests.integration.agent.conftest import Running, anthropic_llm, start_server


async def chat(server: Running, agent_id: str, text: str) -> str:
    stream = await server.client().chat.completions.create(
        model=agent_id, messages=[{"role": "user", "content": text}], stream=True)
    return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])


async def test_agent_crud_and_openai_model_list(server: Running) -> None:
    agent = await server.create_agent(name="concierge", blocks=[
        {"label": "persona", "value": "A concierge."}, {"label": "human", "value": "Unknown guest."}])
    assert agent["id"].startswith("agent-") and [b["label"] for b in agent["blocks"]] == ["persona", "human"]
    status, listed = await server.request("GET", "/v1/agents")
    assert status == 200 and [a["id"] for a in listed["data"]] == [agent["id"]]
    models = await server.client().models.list()
    assert [m.id for m in models.data] == [agent["id"]]
    status, got = await server.request("GET", f"/v1/agents/{agent['id']}")
    assert status == 200 and got["name"] == "concierge"
    # an agent can also be addressed by its unique name
    server.fake.script([Text("Hello.")])
    assert await chat(server, "concierge", "Hi") == "Hello."


async def test_agent_creation_is_validated(server: Running) -> None:
    cases: list[dict[str, Any]] = [
        {"name": "x", "buffer": {"max_messages": 5, "min_messages": 5}},
        {"name": "x", "buffer": {"max_messages": 10, "min_messages": 4}},
        {"name": "x", "blocks": [{"label": "persona", "value": "p"}]},  # no 'human' block for the sleeptime agent
        {"name": "x", "llm": {"provider": "nope"}},
        {"name": "", "unexpected": 1},
        {"name": "x", "block_ids": ["block-missing"]},
    ]
    for body in cases:
        status, data = await server.request("POST", "/v1/agents", json=body)
        assert status in (400, 404), (body, data)
        assert data["error"]["message"]
    status, listed = await server.request("GET", "/v1/agents")
    assert listed["data"] == []


async def test_shared_block_is_seen_by_both_agents_and_survives_cascade_delete(server: Running) -> None:
    a = await server.create_agent(name="a")
    human = next(b for b in a["blocks"] if b["label"] == "human")
    b = await server.create_agent(name="b", blocks=[{"label": "persona", "value": "B"}], block_ids=[human["id"]])
    assert {x["label"] for x in b["blocks"]} == {"persona", "human"}
    status, updated = await server.request("PATCH", f"/v1/blocks/{human['id']}",
                                           json={"value": "Prefers tea.", "expected_version": human["version"]})
    assert status == 200 and updated["version"] == human["version"] + 1
    status, stale = await server.request("PATCH", f"/v1/blocks/{human['id']}",
                                         json={"value": "Prefers coffee.", "expected_version": human["version"]})
    assert status == 409 and stale["error"]["code"] == "conflict"
    status, seen_by_b = await server.request("GET", f"/v1/agents/{b['id']}/blocks/human")
    assert seen_by_b["value"] == "Prefers tea."
    server.fake.script([Text("Noted.")])
    await chat(server, b["id"], "Hello")
    assert "Prefers tea." in server.fake.requests[-1]["messages"][0]["content"]
    server.fake.script([Text("Hi.")])
    await chat(server, a["id"], "Hello")
    persona_a = next(x for x in a["blocks"] if x["label"] == "persona")
    status, _ = await server.request("DELETE", f"/v1/agents/{a['id']}")
    assert status == 200
    assert (await server.request("GET", f"/v1/agents/{a['id']}"))[0] == 404
    assert (await server.request("GET", f"/v1/agents/{a['id']}/messages"))[0] == 404
    assert (await server.request("GET", f"/v1/blocks/{human['id']}"))[0] == 200  # still b's
    assert (await server.request("GET", f"/v1/blocks/{persona_a['id']}"))[0] == 404  # only a's: gone
    assert await server.store.list_messages(a["id"]) == []


async def test_block_limits_and_messages_listing(server: Running) -> None:
    agent = await server.create_agent(blocks=[{"label": "human", "value": "", "limit": 20}])
    status, data = await server.request("PATCH", f"/v1/agents/{agent['id']}/blocks/human", json={"value": "x" * 21})
    assert status == 400 and "limit" in data["error"]["message"]
    server.fake.script([Text("One.")], [Text("Two.")])
    await chat(server, agent["id"], "first")
    await chat(server, agent["id"], "second")
    status, msgs = await server.request("GET", f"/v1/agents/{agent['id']}/messages?limit=2")
    assert status == 200 and [m["content"] for m in msgs["data"]] == ["second", "Two."]
    assert (await server.request("GET", f"/v1/agents/{agent['id']}/messages?limit=abc"))[0] == 400


async def test_api_key_is_required_everywhere_when_configured(tmp_path: Path, fake_openai: FakeOpenAIServer) -> None:
    running, runner = await start_server(tmp_path, fake_openai, api_key="s3cret")
    try:
        async with aiohttp.ClientSession() as s:
            for method, path in [("GET", "/v1/agents"), ("POST", "/v1/chat/completions"), ("GET", "/v1/models"),
                                 ("POST", "/v1/agents")]:
                async with s.request(method, running.url + path, json={}) as r:
                    assert r.status == 401
                    assert (await r.json())["error"]["type"] == "authentication_error"
            async with s.get(running.url + "/v1/agents", headers={"Authorization": "Bearer wrong"}) as r:
                assert r.status == 401
            async with s.get(running.url + "/health") as r:
                assert r.status == 200
        agent = await running.create_agent()  # with the key
        fake_openai.script([Text("Authorized.")])
        assert await chat(running, agent["id"], "hi") == "Authorized."
    finally:
        await runner.cleanup()


@pytest.fixture
async def anthropic_server(tmp_path: Path, fake_openai: FakeOpenAIServer,
                           fake_anthropic: FakeAnthropicServer) -> Any:
    running, runner = await start_server(tmp_path, fake_openai, api_key=None)
    try:
        yield running, fake_anthropic
    finally:
        await runner.cleanup()


async def test_anthropic_agent_runs_a_tool_round_trip(anthropic_server: Any) -> None:
    server, fake = anthropic_server
    agent = await server.create_agent(llm=anthropic_llm(fake))
    args = json.dumps({"pre_exec_msg": "Let me check.", "convo_keyword_queries": ["tea"],
                       "start_minutes_ago": None, "end_minutes_ago": None})
    fake.script([Text("Sure. "), ToolCall("search_memory", args)], [Text("Nothing about tea yet.")])
    text = await chat(server, agent["id"], "Do I like tea?")
    assert text == "Sure. Let me check. Nothing about tea yet."
    second = fake.requests[1]
    system = second["system"] if isinstance(second["system"], str) else "".join(b["text"] for b in second["system"])
    assert "<memory_blocks>" in system
    last = second["messages"][-1]
    assert last["role"] == "user" and last["content"][0]["type"] == "tool_result"
    rows = await server.store.list_messages(agent["id"])
    assert [m.role for m in rows] == ["user", "assistant", "tool", "assistant"]


async def test_serve_creates_a_default_agent_on_an_empty_database(tmp_path: Path,
                                                                  fake_openai: FakeOpenAIServer) -> None:
    for _ in range(2):  # a restart does not add a second one
        running, runner = await start_server(tmp_path, fake_openai, api_key=None, create_default_agent=True)
        try:
            status, listed = await running.request("GET", "/v1/agents")
            assert status == 200 and [a["name"] for a in listed["data"]] == ["assistant"]
            assert listed["data"][0]["llm"]["provider"] == "local"
        finally:
            await runner.cleanup()


async def test_the_default_agent_is_in_the_hosts_time_zone(tmp_path: Path, fake_openai: FakeOpenAIServer,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/Los_Angeles")  # a laptop in California: its user's days, without a setting
    running, runner = await start_server(tmp_path, fake_openai, api_key=None, create_default_agent=True)
    try:
        status, listed = await running.request("GET", "/v1/agents")
        assert status == 200 and listed["data"][0]["timezone"] == "America/Los_Angeles"
    finally:
        await runner.cleanup()
