"""A JavaScript client's ``Date.now()`` is milliseconds where voice-letta takes epoch seconds (a passage's
``start_at``, a message's ``said_at``). It was refused as "in the future" only, which sent its developer looking for
clock drift; now each door says the number looks like milliseconds (real server, real clients)."""

from __future__ import annotations

import time

import openai
import pytest

from tests.fakes.native_client import NativeClient
from tests.fakes.openai_server import Text
from tests.integration.agent.conftest import Running


def now_ms() -> int:
    return int(time.time() * 1000)


async def test_rest_times_in_milliseconds_are_named_as_such(server: Running) -> None:
    agent = await server.create_agent(name="ms")
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/archival/batch",
                                        json={"passages": [{"text": "dentist on Friday", "start_at": now_ms()}]})
    assert status == 400 and body["error"]["param"] == "passages.0.start_at", body
    assert "milliseconds" in body["error"]["message"], body
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/messages/import", json={
        "messages": [{"role": "user", "content": "hi", "said_at": now_ms()}]})
    assert status == 400 and body["error"]["param"] == "messages.0.said_at" and "milliseconds" in body["error"][
        "message"], body
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/archival/batch", json={
        "passages": [{"text": "x", "start_at": time.time() + 3600}]})  # seconds, an hour ahead: no such hint
    assert status == 400 and "milliseconds" not in body["error"]["message"], body
    # A chat export's local times (a user at UTC+3) read as UTC: the last messages are 3 hours ahead. Before, the
    # error said only "in the future"; now by how much, and why that is likely.
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/messages/import", json={
        "messages": [{"role": "user", "content": "see you at 9", "said_at": time.time() + 3 * 3600 - 120}]})
    message = body["error"]["message"]
    assert status == 400 and "2 h 58 min ahead" in message and "local time read as UTC" in message, body
    status, _ = await server.request("POST", f"/v1/agents/{agent['id']}/archival/batch",
                                     json={"passages": [{"text": "dentist on Friday", "start_at": now_ms() / 1000}]})
    assert status == 201


async def test_chat_and_voice_said_at_in_milliseconds_are_named_as_such(server: Running) -> None:
    agent = await server.create_agent(name="ms-chat")
    with pytest.raises(openai.BadRequestError) as caught:
        await server.client().chat.completions.create(
            model=agent["id"], messages=[{"role": "user", "content": "hi"}],
            extra_body={"voice_letta": {"said_at": now_ms()}})
    error = caught.value.body
    assert isinstance(error, dict) and error["param"] == "voice_letta.said_at" and "milliseconds" in error["message"]
    async with await NativeClient.open(server.url, agent=agent["id"]) as c:
        await c.wait_for("session.created")
        await c.send(type="input_text", text="hi", said_at=now_ms())
        err = await c.wait_for("error")
        assert "milliseconds" in err["message"], err
        server.fake.script([Text("Hello.")])
        await c.send(type="input_text", text="hi", said_at=time.time())  # the session goes on
        await c.wait_for("response.done")
