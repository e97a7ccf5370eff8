"""What the agent adds to a request is framed so models never read it aloud, and is dropped if they do."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.fakes.openai_server import Pause, Text, ToolCall
from tests.integration.agent.conftest import Running
from voice_letta.agent.context import INTERRUPTED_NOTE
from voice_letta.agent.prompt import CONTEXT_RULE


async def test_context_notes_are_framed_and_the_rule_is_in_the_system_prompt(server: Running) -> None:
    agent = await server.create_agent()
    await server.client().chat.completions.create(model=agent["id"], messages=[{"role": "user", "content": "Hi"}])
    sent = server.fake.requests[-1]["messages"]
    assert CONTEXT_RULE in sent[0]["content"]
    assert sent[-1]["content"].startswith("<context>Current time: ") and sent[-1]["content"].endswith("</context>\nHi")


async def test_a_copied_context_note_is_neither_spoken_nor_stored(server: Running) -> None:
    agent = await server.create_agent()
    server.fake.script([Text("<context>Current time: Mon"), Text("day 09:00 UTC.</con"), Text("text> Good morning!")])
    stream = await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "Hi"}], stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "Good morning!"
    rows = await server.store.list_messages(agent["id"])
    assert rows[-1].content == "Good morning!"


async def test_a_filler_with_a_copied_note_is_spoken_without_it(server: Running) -> None:
    agent = await server.create_agent()
    args = '{"pre_exec_msg": "[context] Let me look.", "convo_keyword_queries": ["x"]}'
    server.fake.script([ToolCall("search_memory", args)], [Text("Nothing found.")])
    stream = await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "What did I say?"}], stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "Let me look. Nothing found."


async def test_an_interrupted_reply_is_marked_outside_the_assistants_own_words(server: Running) -> None:
    agent = await server.create_agent()
    server.fake.script([Text("I was saying that "), Pause(3.0), Text("the rest.")])
    async with aiohttp.ClientSession() as s:
        resp = await s.post(f"{server.url}/v1/chat/completions", json={
            "model": agent["id"], "stream": True, "messages": [{"role": "user", "content": "Tell me."}]})
        got = b""
        while b"I was saying" not in got:
            got += await resp.content.readany()
        resp.close()  # barge-in
    for _ in range(100):
        rows = await server.store.list_messages(agent["id"])
        if len(rows) == 2 and rows[1].interrupted:
            break
        await asyncio.sleep(0.05)
    server.fake.script([Text("Sorry, go ahead.")])
    await server.client().chat.completions.create(model=agent["id"], messages=[
        {"role": "user", "content": "Tell me."}, {"role": "assistant", "content": "I was saying that"},
        {"role": "user", "content": "Stop."}])
    sent = server.fake.requests[-1]["messages"]
    assert sent[2] == {"role": "assistant", "content": "I was saying that—"}
    assert sent[3]["content"].endswith(f"{INTERRUPTED_NOTE}\nStop.")
    assert "[interrupted" not in str(sent)
