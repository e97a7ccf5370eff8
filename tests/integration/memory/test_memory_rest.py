"""Batch archival inserts, ``memory.updated`` for REST edits, buffer validation: a real server, a real SQLite file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.agent.conftest import Running, start_server
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.session.conftest import start_voice_server

DAY = 86400.0


async def test_batch_insert_keeps_order_and_times_and_is_searchable(server: Running) -> None:
    agent = await create_voice_agent(server)
    base = f"/v1/agents/{agent['id']}/archival"
    t0 = time.time() - 30 * DAY
    items = [{"text": "user: My sister Maya moved to Lisbon for a design job.", "start_at": t0},
             {"text": "user: I'm allergic to peanuts.", "start_at": t0 + 60, "end_at": t0 + 90},
             {"text": "user: Biscuit, my corgi, chewed my shoes again.", "synopsis": "The user's dog is a corgi.",
              "start_at": t0 + 120}]
    status, body = await server.request("POST", f"{base}/batch", json={"passages": items})
    assert status == 201, body
    assert [p["text"] for p in body["data"]] == [i["text"] for i in items]
    assert body["data"][0]["start_at"] == t0 and body["data"][0]["end_at"] == t0  # end defaults to start
    assert body["data"][1]["end_at"] == t0 + 90
    assert all(p["embedding_model"] == "all-MiniLM-L6-v2" for p in body["data"])
    status, listed = await server.request("GET", base)
    assert listed["total"] == 3
    status, found = await server.request("GET", f"{base}/search", params={"query": "what pet do I have?"})
    assert status == 200 and found["data"][0]["id"] == body["data"][2]["id"]


async def test_batch_insert_rejects_bad_input_and_stores_nothing(server: Running) -> None:
    agent = await create_voice_agent(server)
    base = f"/v1/agents/{agent['id']}/archival"
    bad: list[Any] = [
        {},  # no passages
        {"passages": []},
        {"passages": [{"text": ""}]},
        {"passages": [{"text": "ok"}, {"text": "ends before it starts", "start_at": 100.0, "end_at": 50.0}]},
        {"passages": [{"text": "negative time", "start_at": -1}]},
        {"passages": [{"text": "x"}] * 1001},
        {"passages": [{"text": "unknown field", "speaker": "me"}]},
    ]
    for body in bad:
        status, data = await server.request("POST", f"{base}/batch", json=body)
        assert status == 400, (body, data)
        assert data["error"]["code"] == "invalid_request"
    status, listed = await server.request("GET", base)
    assert listed["total"] == 0
    status, data = await server.request("POST", "/v1/agents/agent-nobody/archival/batch",
                                        json={"passages": [{"text": "x"}]})
    assert status == 404


async def test_a_passage_said_in_the_future_is_refused(server: Running) -> None:
    """start_at/end_at say when the words were said: at most SAID_AT_FUTURE_S ahead of the clock, as a message's
    said_at. A passage dated start_at 1e15 (year 31,690,708) was stored, then every turn whose search_memory showed
    it failed ("year 31690708 is out of range" while rendering its date)."""
    agent = await create_voice_agent(server)
    base = f"/v1/agents/{agent['id']}/archival"
    now = time.time()
    for path, body, param in [
        (base, {"text": "door code 4471", "start_at": 1e15}, "start_at"),
        (base, {"text": "door code 4471", "start_at": now + DAY}, "start_at"),
        (base, {"text": "door code 4471", "start_at": now - DAY, "end_at": now + DAY}, "end_at"),
        (f"{base}/batch", {"passages": [{"text": "ok"}, {"text": "x", "end_at": 1e300}]}, "passages.1.end_at"),
        (f"{base}/batch", {"passages": [{"text": "ok"}, {"text": "x", "start_at": now, "end_at": now + DAY}]},
         "passages.1.end_at"),
    ]:
        status, data = await server.request("POST", path, json=body)
        assert status == 400, (body, data)
        assert (data["error"]["code"], data["error"]["param"]) == ("invalid_request", param), data
    status, listed = await server.request("GET", base)
    assert listed["total"] == 0
    status, made = await server.request("POST", base, json={"text": "clock drift", "start_at": now + 60})
    assert status == 201, made  # a client's clock a minute ahead is drift, not the future


async def test_batch_insert_needs_the_api_key(tmp_path: Path, fake_openai: FakeOpenAIServer) -> None:
    running, runner = await start_server(tmp_path, fake_openai, api_key="sekrit")
    try:
        agent = await running.create_agent()
        url = f"{running.url}/v1/agents/{agent['id']}/archival/batch"
        body = {"passages": [{"text": "user: I like tea."}]}
        async with aiohttp.ClientSession() as s:
            async with s.post(url, json=body) as r:
                assert r.status == 401
            status, token = await running.request("POST", "/v1/tokens", json={"scopes": ["read"],
                                                                                "agent": agent["id"]})
            assert status == 200, token
            async with s.post(url, json=body, headers={"Authorization": f"Bearer {token['token']}"}) as r:
                assert r.status == 403  # a read token may search, not write
            async with s.post(url, json=body, headers=running.headers()) as r:
                assert r.status == 201
    finally:
        await runner.cleanup()


async def test_rest_edits_of_blocks_and_archival_memory_reach_live_sessions(
    tmp_path: Path, fake_openai: FakeOpenAIServer
) -> None:
    vs = await start_voice_server(tmp_path, fake_openai)
    try:
        agent = await vs.create_agent()
        async with await vs.client(agent) as c, aiohttp.ClientSession() as http:
            await c.send(type="ping")
            await c.wait_for("pong")

            async with http.patch(f"{vs.url}/v1/agents/{agent}/blocks/human",
                                  json={"value": "Name: Ada. Likes tea."}) as r:
                assert r.status == 200
            ev = await c.wait_for("memory.updated")
            assert ev["reason"] == "rest"
            assert {"label": "human", "value": "Name: Ada. Likes tea.", "version": 2} in ev["blocks"]

            async with http.post(f"{vs.url}/v1/agents/{agent}/archival/batch",
                                 json={"passages": [{"text": "user: I ride a blue bike."},
                                                    {"text": "user: I play chess on Sundays."}]}) as r:
                assert r.status == 201
                created = (await r.json())["data"]
            ev = await c.wait_for("memory.updated", count=2)
            assert ev["passages_added"] == 2 and ev["reason"] == "rest"

            async with http.delete(f"{vs.url}/v1/agents/{agent}/archival/{created[0]['id']}") as r:
                assert r.status == 200
            ev = await c.wait_for("memory.updated", count=3)
            assert ev["passages_removed"] == 1 and ev["passages_added"] == 0
    finally:
        await vs.runner.cleanup()


async def test_a_shared_block_edit_notifies_every_agent_that_links_it(
    tmp_path: Path, fake_openai: FakeOpenAIServer
) -> None:
    vs = await start_voice_server(tmp_path, fake_openai)
    try:
        first = await vs.create_agent()
        blocks = {b.label: b for b in await vs.store.list_blocks(first)}
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{vs.url}/v1/agents", json={
                    "name": "second", "blocks": [{"label": "persona", "value": "Another assistant."}],
                    "block_ids": [blocks["human"].id], "llm": {"provider": "local"}}) as r:
                assert r.status == 201, await r.text()
                second = (await r.json())["id"]
            async with await vs.client(first) as c1, await vs.client(second) as c2:
                for c in (c1, c2):
                    await c.send(type="ping")
                    await c.wait_for("pong")
                async with http.patch(f"{vs.url}/v1/blocks/{blocks['human'].id}", json={"value": "Shared fact."}) as r:
                    assert r.status == 200
                for c, agent_id in ((c1, first), (c2, second)):
                    ev = await c.wait_for("memory.updated")
                    assert ev["agent_id"] == agent_id
                    assert any(b["value"] == "Shared fact." for b in ev["blocks"])
    finally:
        await vs.runner.cleanup()


async def test_buffer_settings_are_validated(server: Running) -> None:
    bad = [{"max_messages": 30, "min_messages": 15, "max_context_tokens": -100},
           {"max_messages": 30, "min_messages": 15, "max_context_tokens": 0},
           {"max_messages": 30, "min_messages": 15, "max_context_tokens": 255},
           {"max_messages": 4, "min_messages": 3},
           {"max_messages": 10, "min_messages": 10},
           {"max_messages": 20_000, "min_messages": 15},
           {"max_messages": 30, "min_messages": 15, "max_context_tokens": 1.5}]
    for buffer in bad:
        status, data = await server.request("POST", "/v1/agents", json={"name": "b", "buffer": buffer})
        assert status == 400, (buffer, data)
        assert data["error"]["code"] == "invalid_request" and "buffer" in data["error"]["message"]
    status, data = await server.request("POST", "/v1/agents", json={
        "name": "ok", "buffer": {"max_messages": 10, "min_messages": 5, "max_context_tokens": 256}})
    assert status == 201, data
    assert data["buffer"] == {"max_messages": 10, "min_messages": 5, "max_context_tokens": 256}


async def test_chat_completions_can_say_when_the_user_spoke(server: Running) -> None:
    from tests.fakes.openai_server import Text

    agent = await create_voice_agent(server)
    said = time.time() - 3 * DAY
    server.fake.script([Text("Noted.")])
    reply = await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "I adopted a cat called Miso."}],
        extra_body={"voice_letta": {"said_at": said}})
    assert reply.choices[0].message.content == "Noted."
    status, listed = await server.request("GET", f"/v1/agents/{agent['id']}/messages")
    user = [m for m in listed["data"] if m["role"] == "user"]
    assert user[-1]["content"] == "I adopted a cat called Miso." and user[-1]["created_at"] == said
    assistant = [m for m in listed["data"] if m["role"] == "assistant"]
    assert assistant[-1]["created_at"] > said + 2 * DAY  # the reply is stored when it was made
    for bad in (time.time() + 3600, -5, "yesterday", True, "1700000000"):  # true was taken as 1.0 (1970)
        status, data = await server.request("POST", "/v1/chat/completions", json={
            "model": agent["id"], "messages": [{"role": "user", "content": "hi"}], "voice_letta": {"said_at": bad}})
        assert status == 400, (bad, data)
    # A misspelt member of our namespace is refused, not ignored (the line would be stored as said now).
    status, data = await server.request("POST", "/v1/chat/completions", json={
        "model": agent["id"], "messages": [{"role": "user", "content": "hi"}], "voice_letta": {"said_ta": said}})
    assert status == 400 and data["error"]["param"] == "voice_letta.said_ta", data


async def test_typed_input_can_say_when_it_was_said(tmp_path: Path, fake_openai: FakeOpenAIServer) -> None:
    from tests.fakes.openai_server import Text

    vs = await start_voice_server(tmp_path, fake_openai)
    try:
        agent = await vs.create_agent()
        said = time.time() - 2 * DAY
        fake_openai.script([Text("Got it.")])
        async with await vs.client(agent) as c:
            await c.send(type="session.update", session={"turn_mode": "text"})
            await c.send(type="input_text", text="My sister moved to Lisbon.", said_at=said)
            await c.wait_for("response.done")
            await c.send(type="input_text", text="hello", said_at=time.time() + 3600)
            err = await c.wait_for("error")
            assert err["code"] == "invalid_request" and "said_at" in err["message"]
            await c.send(type="input_text", text="hello", said_at=True, event_id="t1")  # was taken as 1970
            err = await c.wait_for("error", event_id="t1")
            assert err["code"] == "invalid_event" and "said_at" in err["message"]
            # a refused message is not a turn: no transcript.final for it (the client showed words never answered)
            assert [e["text"] for e in c.events("transcript.final")] == ["My sister moved to Lisbon."]
            await c.send(type="ping")
            await c.wait_for("pong")  # the session goes on
        rows = [m for m in await vs.store.list_messages(agent) if m.role == "user"]
        assert [(m.content, m.created_at) for m in rows] == [("My sister moved to Lisbon.", said)]
    finally:
        await vs.runner.cleanup()


async def test_a_block_over_its_limit_names_the_field_at_fault(server: Running) -> None:
    status, error = await server.request("POST", "/v1/agents", json={
        "name": "limits", "llm": {"provider": "local"},
        "blocks": [{"label": "persona", "value": "Hi."}, {"label": "human", "value": "x" * 21, "limit": 20}]})
    assert (status, error["error"]["code"], error["error"]["param"]) == (400, "invalid_config", "blocks.1.value")
    agent = await server.create_agent(blocks=[{"label": "human", "value": "Likes tea.", "limit": 20}])
    url = f"/v1/agents/{agent['id']}/blocks/human"
    for body, param in (({"value": "x" * 21}, "value"), ({"limit": 5}, "limit"),
                        ({"value": "Likes tea.", "limit": 5}, "limit"), ({"value": "x" * 21, "limit": 19}, "value")):
        status, error = await server.request("PATCH", url, json=body)
        assert (status, error["error"]["code"], error["error"]["param"]) == (400, "invalid_config", param), body
    status, block = await server.request("GET", url)
    assert (block["value"], block["limit"], block["version"]) == ("Likes tea.", 20, 1)
    status, _ = await server.request("PATCH", url, json={"read_only": True})
    status, error = await server.request("PATCH", url, json={"value": "Likes coffee."})
    assert (status, error["error"]["param"]) == (400, "read_only")
