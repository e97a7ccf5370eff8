"""Typed messages sent faster than the agent answers, over ``/v1/voice`` on the real server (the fake OpenAI LLM over
HTTP). Each ``input_text`` supersedes the response of the one before; a response cut before its turn began gives its
input back to the next, so nothing typed is lost. Found from outside (QA session 10): 300 messages of 4,000
characters sent at once became ONE stored user message of 1.2M characters (~100 sleeptime jobs for one turn). Now a
turn holds at most MAX_TURN_TEXT_CHARS: past it, what waits is stored at once as a turn of its own."""

from __future__ import annotations

from tests.fakes.openai_server import Text
from tests.integration.session.conftest import VoiceServer
from voice_letta.session.pending import MAX_TURN_TEXT_CHARS
from voice_letta.wire.native import MAX_INPUT_TEXT_CHARS

SENT = 60  # 240,000 characters: more than two turns' worth


def typed(n: int) -> str:
    tag = f"<msg {n}>"
    return tag + "z" * (MAX_INPUT_TEXT_CHARS - 2 * len(tag)) + tag


async def test_a_flood_of_typed_messages_is_stored_whole_in_turns_of_bounded_size(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    vs.fake.script(*([Text("Okay.")] for _ in range(SENT)))  # one scripted reply per turn
    async with await vs.client(agent) as c:
        await c.wait_for("session.created")
        await c.send(type="session.update", session={"turn_mode": "text", "output_modalities": ["text"]})
        await c.wait_for("session.updated")
        for n in range(SENT):
            await c.send(type="input_text", text=typed(n))
        await c.wait_for("response.done", count=SENT, timeout_s=60)
        assert not c.events("error")
    users = [m.content for m in await vs.store.list_messages(agent, limit=1000) if m.role == "user"]
    assert max(len(u) for u in users) <= MAX_TURN_TEXT_CHARS + MAX_INPUT_TEXT_CHARS  # before: one of 240,059
    said = "\n".join(users)
    assert all(said.count(f"<msg {n}>") == 2 for n in range(SENT))  # every message stored, once
