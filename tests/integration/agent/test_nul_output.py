"""Model output holding the NUL character (U+0000) is stored without it, on SQLite and on PostgreSQL.

Input with NUL is refused at the door (test_nul_text.py), but a model can stream one (a broken fine-tune, a
quantised local server): PostgreSQL cannot store NUL in text, so the turn's end failed there after the reply
had been streamed, and the agent's lease stayed taken.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Text, ToolCall
from tests.integration.agent.conftest import Running, serving
from tests.integration.agent.test_chat_completions import collect
from tests.postgres import Databases


@pytest.fixture(params=["sqlite", "postgresql"])
async def server(request: pytest.FixtureRequest, tmp_path: Path, fake_openai: FakeOpenAIServer,
                 pg_databases: Databases) -> AsyncIterator[Running]:
    extra = {} if request.param == "sqlite" else {"database_url": await pg_databases.create()}
    async with serving(tmp_path, fake_openai, api_key=None, **extra) as running:
        yield running


async def chat(server: Running, agent: str, text: str, *, stream: bool) -> tuple[int, str]:
    """The status and the reply's text, streamed or not."""
    body = {"model": agent, "stream": stream, "messages": [{"role": "user", "content": text}]}
    async with aiohttp.ClientSession() as s, s.post(f"{server.url}/v1/chat/completions", json=body) as r:
        raw = await r.text()
    if r.status != 200:
        return r.status, raw
    if not stream:
        return r.status, json.loads(raw)["choices"][0]["message"]["content"]
    events = [line.removeprefix("data: ") for line in raw.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]", raw
    chunks = [json.loads(e) for e in events[:-1]]
    return r.status, "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


async def settled(server: Running, agent: str) -> None:
    """A stream ends before its turn's end is stored (docs/protocol.md): wait for the turn record to leave
    "running" (bounded) before reading the rows."""
    deadline = time.monotonic() + 30
    while (turns := await server.store.list_turns(agent)) and turns[-1].status == "running":
        assert time.monotonic() < deadline, "the turn's end was never stored"
        await asyncio.sleep(0.02)
    assert turns[-1].status == "completed"


@pytest.mark.parametrize("stream", [True, False])
async def test_a_reply_with_nul_is_delivered_and_stored_without_it(server: Running, stream: bool) -> None:
    agent = (await server.create_agent())["id"]
    server.fake.script([Text("Hel\u0000lo"), Text(" there.\u0000")], [Text("Second.")])
    assert await chat(server, agent, "hi", stream=stream) == (200, "Hello there.")
    assert await chat(server, agent, "again", stream=stream) == (200, "Second.")  # the lease was released
    await settled(server, agent)
    rows = [(m.role, m.content) for m in await server.store.list_messages(agent)]
    assert rows == [("user", "hi"), ("assistant", "Hello there."), ("user", "again"), ("assistant", "Second.")]


async def test_a_client_tool_call_with_nul_in_its_arguments_arrives_and_is_stored_without_it(server: Running
                                                                                            ) -> None:
    agent = (await server.create_agent())["id"]
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                               "parameters": {"type": "object", "properties": {
                                                   "city": {"type": "string"}}, "required": ["city"]}}}]
    server.fake.script([ToolCall("get_weather\u0000", '{"city": "Pa\u0000ris"}', id="call_w1")])
    chunks, _ = await collect(await server.client().chat.completions.create(
        model=agent, messages=[{"role": "user", "content": "Weather in Paris?"}], tools=tools, stream=True))
    await settled(server, agent)
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].function.name == "get_weather"
    assert "".join(tc.function.arguments or "" for tc in calls) == '{"city": "Paris"}'
    stored = [m for m in await server.store.list_messages(agent) if m.tool_calls]
    assert [(c.name, c.arguments) for c in stored[0].tool_calls or []] == [("get_weather", '{"city": "Paris"}')]


async def test_a_tool_whose_arguments_spell_nul_as_an_escape_still_ends_its_turn(server: Running) -> None:
    """The model may also write NUL as the JSON escape inside its arguments: the tool then gets the character
    itself (search_memory's query here) and whatever it answers is stored."""
    agent = (await server.create_agent())["id"]
    args = json.dumps({"pre_exec_msg": "Checking.", "convo_keyword_queries": ["pa\u0000ris"],
                       "start_minutes_ago": None, "end_minutes_ago": None})
    assert "\\u0000" in args
    server.fake.script([ToolCall("search_memory", args)], [Text("Nothing about Paris.")], [Text("Next.")])
    assert await chat(server, agent, "What did I say about Paris?", stream=True) == (
        200, "Checking. Nothing about Paris.")
    assert await chat(server, agent, "ok", stream=False) == (200, "Next.")
    rows = await server.store.list_messages(agent)
    assert [m.role for m in rows] == ["user", "assistant", "tool", "assistant", "user", "assistant"]
    assert all("\x00" not in (m.content or "") for m in rows)


async def test_a_spoken_filler_with_escaped_nul_and_emoji_reaches_the_client_as_it_is_stored(server: Running
                                                                                            ) -> None:
    """The filler (pre_exec_msg) is decoded from the arguments' JSON by the server itself: an escaped NUL reached
    the client while the history kept U+FFFD, and an emoji written as an escaped surrogate pair (json.dumps's
    default) became two lone surrogates, which the SSE encoder refuses."""
    agent = (await server.create_agent())["id"]
    args = json.dumps({"pre_exec_msg": "One \u0000moment \U0001F600.", "convo_keyword_queries": ["paris"],
                       "start_minutes_ago": None, "end_minutes_ago": None})
    assert "\\u0000" in args and "\\ud83d\\ude00" in args
    server.fake.script([ToolCall("search_memory", args)], [Text("Nothing about Paris.")])
    status, heard = await chat(server, agent, "What did I say about Paris?", stream=True)
    assert (status, heard) == (200, "One moment \U0001F600. Nothing about Paris.")
    await settled(server, agent)
    said = [m.content for m in await server.store.list_messages(agent) if m.role == "assistant"]
    assert said == ["One moment \U0001F600.", "Nothing about Paris."]
