"""Limits of ``/v1/realtime`` input, driven by the stock ``openai`` SDK against the real server (scripted speech, the
fake OpenAI LLM over HTTP): what is over a limit is refused at once with a typed ``error``, nothing accepted is lost,
and the session goes on."""

from __future__ import annotations

from typing import Any

from tests.fakes.openai_server import Text
from tests.fakes.realtime_client import RealtimeClient
from tests.integration.session.conftest import VoiceServer
from voice_letta.wire.realtime import MAX_ITEM_TEXT_CHARS, MAX_PENDING_TEXT_CHARS


def user_text(text: str) -> dict[str, object]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def turn_requests(vs: VoiceServer) -> list[dict[str, Any]]:
    """The model calls of voice turns (the sleeptime agent's memory jobs call the same fake)."""
    return [r for r in vs.fake.requests if "memory manager" not in str(r["messages"][0]["content"])]


def long_item(n: int) -> str:
    """A user item of the largest allowed size, its number at both ends."""
    tag = f"<item {n}>"
    return tag + "x" * (MAX_ITEM_TEXT_CHARS - 2 * len(tag)) + tag


async def test_input_waiting_for_a_response_is_bounded_and_nothing_accepted_is_lost(vs: VoiceServer) -> None:
    # Before: 300 items of 4,000 characters were all acknowledged and became one 1.2M-character turn.
    agent = await vs.create_agent()
    vs.fake.script([Text("That was a lot.")])
    fit = MAX_PENDING_TEXT_CHARS // MAX_ITEM_TEXT_CHARS
    async with RealtimeClient.open(vs.url, model=agent) as rt:
        await rt.wait_for("session.created")
        for n in range(fit):
            await rt.conn.conversation.item.create(item=user_text(long_item(n)), event_id=f"add-{n}")
        await rt.conn.conversation.item.create(item=user_text(long_item(fit)), event_id="one-too-many")
        err = await rt.wait_for("error")
        assert err.error.code == "input_too_large" and err.error.param == "item.content"
        assert err.error.event_id == "one-too-many" and f"{MAX_PENDING_TEXT_CHARS:,}" in err.error.message
        added = [e.item.content[0].text for e in rt.of("conversation.item.added") if e.item.role == "user"]
        assert added == [long_item(n) for n in range(fit)]  # the refused one was never acknowledged

        await rt.conn.response.create()
        done = await rt.wait_for("response.done")
        assert done.response.status == "completed"
        sent = turn_requests(vs)[-1]["messages"][-1]["content"]
        assert all(f"<item {n}>" in sent for n in range(fit)) and f"<item {fit}>" not in sent

        # answered: the next input is taken again, and answered too
        vs.fake.script([Text("Got it.")])
        await rt.conn.conversation.item.create(item=user_text(long_item(fit)), event_id="after")
        await rt.conn.response.create()
        assert (await rt.wait_for("response.done")).response.status == "completed"
        assert [e for e in rt.of("conversation.item.added") if e.item.role == "user"][fit].item.content[0].text \
            == long_item(fit)
        assert len(rt.of("error")) == 1
        assert f"<item {fit}>" in turn_requests(vs)[-1]["messages"][-1]["content"]
