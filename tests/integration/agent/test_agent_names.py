"""An agent name several agents share (a setup script that creates its agent on every start, run twice) named no
agent anywhere a name is accepted, with "does not exist" / agent_not_found: the client went looking for an agent it
could list. Now each door says the name is ambiguous and names the agents' ids (real server, real clients)."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp
import openai
import pytest

from tests.fakes.openai_server import Text
from tests.fakes.realtime_client import RealtimeClient
from tests.integration.agent.conftest import Running


async def two_named(server: Running, name: str) -> list[str]:
    return [(await server.create_agent(name=name))["id"] for _ in range(2)]


async def test_chat_completions_with_a_shared_name_is_a_409_naming_the_agents(server: Running) -> None:
    ids = await two_named(server, "receptionist")
    with pytest.raises(openai.ConflictError) as caught:  # before: 404 model_not_found, "does not exist"
        await server.client().chat.completions.create(model="receptionist",
                                                      messages=[{"role": "user", "content": "hi"}])
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "ambiguous_agent_name"
    assert all(i in error["message"] for i in ids)
    server.fake.script([Text("Hello.")])
    done = await server.client().chat.completions.create(model=ids[1], messages=[{"role": "user", "content": "hi"}])
    assert done.choices[0].message.content == "Hello."  # the id still works


async def test_the_voice_sockets_say_the_name_is_ambiguous(server: Running) -> None:
    ids = await two_named(server, "receptionist")
    async with RealtimeClient.open(server.url, model="receptionist") as rt:
        err = await rt.wait_for("error")
        assert err.error.code == "ambiguous_agent_name" and ids[0] in err.error.message
    url = server.url.replace("http", "ws", 1) + "/v1/voice?agent=receptionist"
    async with aiohttp.ClientSession() as s, s.ws_connect(url, protocols=["voice-letta.v1"]) as ws:
        events = [await ws.receive_json() for _ in range(2)]
        errors = [e for e in events if e["type"] == "error"]
        assert errors and errors[0]["code"] == "ambiguous_agent_name", events
        await ws.send_json({"type": "ping", "event_id": "p1"})  # the session goes on
        assert await ws.receive_json() == {"type": "pong", "event_id": "p1"}


@pytest.mark.parametrize("name", ["   ", "front\ndesk", "front\tdesk", "desk\u0000", "\u0007bell", "\u200b\ufeff"])
async def test_a_name_without_a_visible_character_or_with_a_control_character_is_a_400(server: Running,
                                                                                        name: str) -> None:
    # Before: 201 ("front\tdesk" broke `voice-letta agents list`'s tab-separated lines; "   " named no agent).
    status, body = await server.request("POST", "/v1/agents", json={"name": name, "llm": {"provider": "local"}})
    assert status == 400 and body["error"]["param"] == "name", body
    agent = await server.create_agent(name="front desk")  # spaces inside a name are fine
    status, body = await server.request("PATCH", f"/v1/agents/{agent['id']}", json={"name": name})
    assert status == 400 and body["error"]["param"] == "name", body
    assert [a.name for a in await server.store.list_agents()] == ["front desk"]


async def test_a_name_typed_with_a_combining_accent_is_the_same_name(server: Running) -> None:
    # "Café Luna" typed on macOS (or pasted from a file name) arrives decomposed: "Cafe" + U+0301. It looks the same
    # everywhere and named no agent: the openai SDK with model="Café Luna" got 404 model_not_found.
    agent = await server.create_agent(name="Cafe\u0301 Luna")
    assert agent["name"] == "Caf\u00e9 Luna"  # stored composed (NFC)
    server.fake.script([Text("Hello.")])
    done = await server.client().chat.completions.create(model="Caf\u00e9 Luna",
                                                         messages=[{"role": "user", "content": "hi"}])
    assert done.choices[0].message.content == "Hello."
    other = await server.create_agent(name="Caf\u00e9 Luna")  # the same name typed the other way: two agents share it
    with pytest.raises(openai.ConflictError) as caught:
        await server.client().chat.completions.create(model="Cafe\u0301 Luna",
                                                      messages=[{"role": "user", "content": "hi"}])
    assert isinstance(caught.value.body, dict) and other["id"] in caught.value.body["message"]
    status, body = await server.request("PATCH", f"/v1/agents/{other['id']}", json={"name": "Zo\u0308e"})
    assert status == 200 and body["name"] == "Z\u00f6e", body


async def test_spaces_around_a_name_are_not_part_of_it(server: Running) -> None:
    # " front desk" pasted from a spreadsheet, and model="front desk " read from a config line: before, the name was
    # stored with its spaces and neither spelling reached the agent (404 model_not_found).
    agent = await server.create_agent(name=" front desk\u00a0")
    assert agent["name"] == "front desk"
    server.fake.script([Text("Hello.")])
    done = await server.client().chat.completions.create(model="front desk ",
                                                         messages=[{"role": "user", "content": "hi"}])
    assert done.choices[0].message.content == "Hello."


@pytest.mark.parametrize(("typed", "stored"), [
    ("front\u00a0desk", "front desk"),  # a no-break space: copied from a web page, Word or Google Docs
    ("front\u2003desk", "front desk"),  # an em space (a document's typography)
    ("night\u200bdesk", "nightdesk"),  # a zero-width space (copied from Slack, Teams or a web page)
    ("\ufeffkitchen", "kitchen"),  # a byte order mark: the first line of a Windows-written file
    ("soft\u00adhyphen", "softhyphen"),  # a soft hyphen (copied from a hyphenated web page)
])
async def test_invisible_or_unusual_spaces_in_a_name_are_plain_ones(server: Running, typed: str, stored: str) -> None:
    # Before: stored as pasted, so the agent looked like "front desk" everywhere and the name as typed reached no
    # agent (404 model_not_found, agent_not_found on the voice socket), and a second "front desk" looked the same.
    agent = await server.create_agent(name=typed)
    assert agent["name"] == stored
    url = server.url.replace("http", "ws", 1) + "/v1/voice?agent=" + quote(stored)
    async with aiohttp.ClientSession() as s, s.ws_connect(url, protocols=["voice-letta.v1"]) as ws:
        created = await ws.receive_json()
        assert created["type"] == "session.created" and created["session"]["agent"] == agent["id"], created
    for model in (stored, typed):  # as typed, and as pasted
        server.fake.script([Text("Hello.")])
        done = await server.client().chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
        assert done.choices[0].message.content == "Hello."


async def test_a_joiner_that_a_script_or_an_emoji_needs_stays_in_the_name(server: Running) -> None:
    # A zero-width joiner / non-joiner is part of how Persian and Hindi words and family emoji are written.
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # with a zero-width non-joiner
    for name in [persian, "family \U0001f468\u200d\U0001f469\u200d\U0001f467"]:
        agent = await server.create_agent(name=name)
        assert agent["name"] == name
