"""One agent per person outside phone calls: ``?identity=`` on a voice session and the REST route that gives a
backend the person's agent (to mint a voice token for it), with and without an API key."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.native_client import NativeClient
from tests.fakes.openai_server import FakeOpenAIServer, Text
from tests.integration.agent.conftest import start_server


async def test_identity_without_a_key_opens_the_persons_own_agent(tmp_path: Path,
                                                                  fake_openai: FakeOpenAIServer) -> None:
    running, runner = await start_server(tmp_path, fake_openai, api_key=None)
    try:
        template = await running.create_agent(name="coach")
        async with await NativeClient.open(running.url + "", agent="coach&identity=user-42") as c:
            created = await c.wait_for("session.created")
            mine = created["session"]["agent"]
            assert mine not in (None, template["id"])
            fake_openai.script([Text("Hi there.")])
            await c.send(type="input_text", text="Remember me?")
            await c.wait_for("response.done")
        agent = await running.store.get_agent(mine)
        assert agent.name == "coach:user-42"
        async with await NativeClient.open(running.url, agent="coach&identity=user-42") as c:
            assert (await c.wait_for("session.created"))["session"]["agent"] == mine  # found again
        async with await NativeClient.open(running.url, agent="coach&identity=bad%20id") as c:
            assert (await c.wait_for("error"))["code"] == "invalid_identity"
    finally:
        await runner.cleanup()


async def test_with_a_key_the_backend_gets_the_agent_and_a_token_cannot_choose_an_identity(
    tmp_path: Path, fake_openai: FakeOpenAIServer
) -> None:
    running, runner = await start_server(tmp_path, fake_openai, api_key="k-123")
    try:
        template = await running.create_agent(name="coach")
        status, agent = await running.request("POST", "/v1/agents/coach/identities/user-7")
        assert status == 201 and agent["name"] == "coach:user-7" and agent["id"] != template["id"]
        status, again = await running.request("POST", f"/v1/agents/{template['id']}/identities/user-7")
        assert status == 200 and again["id"] == agent["id"]
        # without the key: refused, like every route that creates agents
        import aiohttp

        async with aiohttp.ClientSession() as s, s.post(running.url + "/v1/agents/coach/identities/x") as r:
            assert r.status == 401
        # a voice token for the template cannot pick an identity (it would open anybody's agent) ...
        status, tok = await running.request("POST", "/v1/tokens", json={"scopes": ["voice"], "agent": template["id"]})
        assert status in (200, 201)
        async with await NativeClient.open(running.url, agent="coach&identity=user-7", token=tok["token"]) as c:
            assert (await c.wait_for("error"))["code"] == "identity_not_allowed"
        # ... a token minted for the person's agent opens it
        status, tok = await running.request("POST", "/v1/tokens", json={"scopes": ["voice"], "agent": agent["id"]})
        async with await NativeClient.open(running.url, token=tok["token"]) as c:
            assert (await c.wait_for("session.created"))["session"]["agent"] == agent["id"]
    finally:
        await runner.cleanup()


async def test_a_client_asks_for_the_agents_greeting(tmp_path: Path, fake_openai: FakeOpenAIServer) -> None:
    running, runner = await start_server(tmp_path, fake_openai, api_key=None)
    try:
        fixed = await running.create_agent(name="fixed", voice={"greeting": "Welcome back!"})
        async with await NativeClient.open(running.url, agent=fixed["id"]) as c:
            await c.send(type="response.create", greeting=True)
            done = await c.wait_for("response.done")
            assert c.response_text(done["response_id"]) == "Welcome back!"
        assert fake_openai.requests == []  # said as written: no model call
        rows = await running.store.list_messages(fixed["id"])
        assert [(m.role, m.content, m.kind) for m in rows] == [("assistant", "Welcome back!", "greeting")]
        # without a greeting configured, the model writes one, cued as the start of the conversation
        plain = await running.create_agent(name="plain")
        fake_openai.script([Text("Hello! How can I help?")])
        async with await NativeClient.open(running.url, agent=plain["id"]) as c:
            await c.send(type="response.create", greeting=True)
            await c.wait_for("response.done")
        cue = str(fake_openai.requests[0]["messages"][-1])
        assert "starts now" in cue and "not said anything" in cue
        assert not [m for m in await running.store.list_messages(plain["id"]) if m.role == "user"]
    finally:
        await runner.cleanup()


async def test_a_template_name_too_long_for_its_persons_agents_is_a_clear_400(tmp_path: Path,
                                                                              fake_openai: FakeOpenAIServer) -> None:
    """<template name>:<identity> must fit an agent name (128 characters): with a 128-character template name every
    identity was a 500 internal_error on REST (and on a voice session); now a 400 saying what to shorten."""
    running, runner = await start_server(tmp_path, fake_openai, api_key=None)
    try:
        template = await running.create_agent(name="t" * 128)
        status, body = await running.request("POST", f"/v1/agents/{template['id']}/identities/+15551234567")
        assert status == 400, body
        assert body["error"]["code"] == "invalid_identity" and "shorter name" in body["error"]["message"]
        async with await NativeClient.open(running.url, agent=f"{template['id']}&identity=user-1") as c:
            assert (await c.wait_for("error"))["code"] == "invalid_identity"
        fits = await running.create_agent(name="t" * 100)
        status, body = await running.request("POST", f"/v1/agents/{fits['id']}/identities/{'u' * 27}")
        assert status == 201 and len(body["name"]) == 128
    finally:
        await runner.cleanup()


async def test_an_unencoded_plus_in_the_identity_is_refused_with_the_way_to_send_it(
        tmp_path: Path, fake_openai: FakeOpenAIServer) -> None:
    # Before: "?identity=+15551234567" reads " 15551234567", was stripped and opened the agent of "15551234567",
    # another person than the caller whose number (Twilio's From) is "+15551234567".
    running, runner = await start_server(tmp_path, fake_openai, api_key=None)
    try:
        await running.create_agent(name="coach")
        async with await NativeClient.open(running.url, agent="coach&identity=+15551234567") as c:
            error = await c.wait_for("error")
            assert error["code"] == "invalid_identity" and "%2B" in error["message"]
        assert [a.name for a in await running.store.list_agents()] == ["coach"]
        async with await NativeClient.open(running.url, agent="coach&identity=%2B15551234567") as c:
            mine = (await c.wait_for("session.created"))["session"]["agent"]
        assert (await running.store.get_agent(mine)).name == "coach:+15551234567"
    finally:
        await runner.cleanup()


async def test_a_template_named_decomposed_before_names_were_composed_finds_its_people_again(
    tmp_path: Path, fake_openai: FakeOpenAIServer
) -> None:
    # A template stored as "Cafe" + U+0301 (before names were stored composed): its person's agent is created
    # composed, and the next visit must find that agent, not fail to create a second one of the same name.
    running, runner = await start_server(tmp_path, fake_openai, api_key=None)
    try:
        made = await running.create_agent(name="cafe")
        template = await running.store.get_agent(made["id"])
        await running.store.update_agent(template.model_copy(update={"name": "Cafe\u0301"}))
        status, first = await running.request("POST", "/v1/agents/Caf%C3%A9/identities/user-1")
        assert status == 201 and first["name"] == "Caf\u00e9:user-1", first
        status, again = await running.request("POST", f"/v1/agents/{made['id']}/identities/user-1")
        assert status == 200 and again["id"] == first["id"], again  # before: 409 "being changed by another request"
    finally:
        await runner.cleanup()
