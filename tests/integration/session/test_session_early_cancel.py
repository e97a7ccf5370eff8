"""A response cut before its task ran or before the agent stored its input (a cancel or a new turn right after the
one that started it) still begins and ends for the client, and its input is not lost (found driving the server as
an outside client would: the words of such a turn vanished and neither response.created nor response.done came)."""

from __future__ import annotations

import asyncio

from tests.fakes.openai_server import Text
from tests.integration.session.conftest import VoiceServer


async def test_input_text_cancelled_at_once_is_kept_for_the_next_turn(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    vs.fake.script([Text("Noted both.")])
    async with await vs.client(agent) as c:
        await c.send(type="session.update", session={"output_modalities": ["text"]})
        await c.wait_for("session.updated")
        await c.send(type="input_text", text="My name is Ada.")
        await c.send(type="response.cancel")
        created = await c.wait_for("response.created")
        done = await c.wait_for("response.done")
        assert done["response_id"] == created["response_id"] and done["status"] == "cancelled"
        assert done["finish_reason"] == "client_cancelled"
        await c.send(type="input_text", text="I live in Lisbon.")
        answered = await c.wait_for("response.done", count=2)
        assert answered["status"] == "completed"
    asked = vs.fake.requests[-1]["messages"][-1]["content"]
    assert "My name is Ada." in asked and "I live in Lisbon." in asked
    users = [m.content for m in await vs.store.list_messages(agent, limit=20) if m.role == "user"]
    assert users == ["My name is Ada.\nI live in Lisbon."]


async def test_a_turn_superseded_before_it_began_joins_the_next_one(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    vs.fake.script([Text("Got it.")])
    async with await vs.client(agent) as c:
        await c.send(type="session.update", session={"output_modalities": ["text"]})
        await c.wait_for("session.updated")
        await c.send(type="input_text", text="First thought.")
        await c.send(type="input_text", text="Second thought.")
        first = await c.wait_for("response.done")
        assert first["status"] == "cancelled" and first["finish_reason"] == "superseded"
        second = await c.wait_for("response.done", count=2)
        assert second["status"] == "completed"
    users = [m.content for m in await vs.store.list_messages(agent, limit=20) if m.role == "user"]
    assert "\n".join(users).count("First thought.") == 1 and "Second thought." in users[-1]


async def test_input_cancelled_before_it_began_is_stored_when_the_session_ends(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    async with await vs.client(agent) as c:
        await c.send(type="input_text", text="Remember the blue door.")
        await c.send(type="response.cancel")
        await c.wait_for("response.done")
    for _ in range(50):  # the session stores it as it closes
        users = [m.content for m in await vs.store.list_messages(agent, limit=20) if m.role == "user"]
        if users:
            break
        await asyncio.sleep(0.05)
    assert users == ["Remember the blue door."]
