"""The OpenAI-compatible endpoint driven by the real openai SDK, with a scripted fake provider behind it."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import openai
import pytest

from tests.fakes.openai_server import Cut, HttpError, Pause, Text, ToolCall
from tests.integration.agent.conftest import Running, start_server
from voice_letta.agent.loop import FALLBACK_SENTENCE
from voice_letta.agent.models import Message, Passage
from voice_letta.server import stream_watch


async def collect(stream: Any) -> tuple[list[Any], str]:
    chunks = [c async for c in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return chunks, text


async def messages_of(server: Running, agent_id: str) -> list[Message]:
    return await server.store.list_messages(agent_id)


async def test_greeting_streams_text_and_uses_no_tool(server: Running) -> None:
    agent = await server.create_agent()
    server.fake.script([Text("Hello there! "), Text("How can I help?")])
    stream = await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "Hi!"}], stream=True,
        stream_options={"include_usage": True})
    chunks, text = await collect(stream)
    assert text == "Hello there! How can I help?"
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    rows = await messages_of(server, agent["id"])
    assert [(m.role, m.content) for m in rows] == [("user", "Hi!"), ("assistant", "Hello there! How can I help?")]
    assert len(server.fake.requests) == 1
    tools = {t["function"]["name"]: t["function"] for t in server.fake.requests[0]["tools"]}
    assert "search_memory" in tools
    params = tools["search_memory"]["parameters"]
    assert next(iter(params["properties"])) == "pre_exec_msg" and params["required"][0] == "pre_exec_msg"


async def test_tool_round_trip_is_persisted_and_calls_the_model_again(server: Running) -> None:
    agent = await server.create_agent()
    args = json.dumps({"pre_exec_msg": "Let me check my notes.", "convo_keyword_queries": ["paris"],
                       "start_minutes_ago": None, "end_minutes_ago": None})
    server.fake.script([ToolCall("search_memory", args)], [Text("I found nothing about Paris.")])
    stream = await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "What did I say about Paris?"}], stream=True)
    _chunks, text = await collect(stream)
    assert text == "Let me check my notes. I found nothing about Paris."
    assert len(server.fake.requests) == 2
    second = server.fake.requests[1]["messages"]
    assert second[-2]["role"] == "assistant" and second[-2]["tool_calls"][0]["function"]["name"] == "search_memory"
    assert second[-1]["role"] == "tool" and "No memories matched" in second[-1]["content"]
    rows = await messages_of(server, agent["id"])
    assert [m.role for m in rows] == ["user", "assistant", "tool", "assistant"]
    call_row = rows[1]
    assert call_row.content == "Let me check my notes."  # the filler is stored as spoken text
    assert call_row.tool_calls and call_row.tool_calls[0].name == "search_memory"
    assert rows[2].tool_call_id == call_row.tool_calls[0].id
    assert rows[3].content == "I found nothing about Paris."


async def test_filler_reaches_client_before_tool_arguments_are_complete(server: Running) -> None:
    agent = await server.create_agent()
    args = json.dumps({"pre_exec_msg": "One moment while I look.", "convo_keyword_queries": ["order", "1234"],
                       "start_minutes_ago": None, "end_minutes_ago": 600})
    server.fake.script([ToolCall("search_memory", args, fragment_chars=4, delay_s=0.03)], [Text("Done.")])
    stream = await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "Where is my order?"}], stream=True)
    events: list[tuple[float, str, str]] = []
    async for c in stream:
        if not c.choices:
            continue
        d = c.choices[0].delta
        if d.content:
            events.append((time.perf_counter(), "content", d.content))
        for tc in d.tool_calls or []:
            events.append((time.perf_counter(), "args", tc.function.arguments or "" if tc.function else ""))
    arg_events = [e for e in events if e[1] == "args"]
    first_filler = next(i for i, e in enumerate(events) if e[1] == "content")
    last_args = max(i for i, e in enumerate(events) if e[1] == "args")
    assert first_filler < last_args, "filler must stream while the arguments are still being written"
    assert "".join(e[2] for e in arg_events) == args  # tool-call deltas are visible, not swallowed
    filler = "".join(e[2] for e in events if e[1] == "content")
    assert filler.startswith("One moment while I look.")
    # The filler arrives in pieces as the model writes it, not in one block at the end.
    assert sum(1 for e in events[:last_args] if e[1] == "content") >= 3


async def test_provider_error_mid_stream_gives_in_band_error_and_finish(server: Running) -> None:
    agent = await server.create_agent()
    server.fake.script([Text("Well, "), Cut()])
    stream = await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "Tell me a story."}], stream=True)
    seen: list[Any] = []
    with pytest.raises(openai.APIError) as err:
        async for c in stream:
            seen.append(c)
    assert "provider" in str(err.value.message).lower() or err.value.message
    text = "".join(c.choices[0].delta.content or "" for c in seen if c.choices)
    assert text.startswith("Well, ") and FALLBACK_SENTENCE in text
    assert [c.choices[0].finish_reason for c in seen if c.choices and c.choices[0].finish_reason] == ["stop"]
    rows = await messages_of(server, agent["id"])
    assert rows[0].role == "user" and rows[-1].role == "assistant" and FALLBACK_SENTENCE in (rows[-1].content or "")


async def test_retryable_provider_errors_are_retried_before_any_output(server: Running) -> None:
    agent = await server.create_agent()
    server.fake.script([HttpError(503)], [HttpError(429)], [Text("Recovered.")])
    stream = await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "Hello?"}], stream=True)
    _, text = await collect(stream)
    assert text == "Recovered."
    assert len(server.fake.requests) == 3


async def test_provider_down_never_gives_an_empty_stream(server: Running) -> None:
    agent = await server.create_agent()
    server.fake.script([HttpError(500)], [HttpError(500)], [HttpError(500)])
    async with aiohttp.ClientSession() as s, s.post(f"{server.url}/v1/chat/completions", json={
            "model": agent["id"], "stream": True, "messages": [{"role": "user", "content": "Hi"}]}) as r:
        assert r.status == 200
        body = (await r.read()).decode()
    assert FALLBACK_SENTENCE in body and '"error"' in body and body.rstrip().endswith("data: [DONE]")


async def test_client_disconnect_keeps_user_message_and_partial_reply(server: Running) -> None:
    agent = await server.create_agent()
    server.fake.script([Text("First part. "), Pause(3.0), Text("Second part.")])
    async with aiohttp.ClientSession() as s:
        resp = await s.post(f"{server.url}/v1/chat/completions", json={
            "model": agent["id"], "stream": True, "messages": [{"role": "user", "content": "Talk to me."}]})
        got = b""
        while b"First part" not in got:
            got += await resp.content.readany()
        resp.close()  # barge-in: the voice framework drops the request mid-reply
    for _ in range(100):
        rows = await messages_of(server, agent["id"])
        if len(rows) == 2:
            break
        await asyncio.sleep(0.05)
    assert rows[0].role == "user" and rows[0].content == "Talk to me."
    assert rows[1].role == "assistant" and rows[1].content == "First part." and rows[1].interrupted
    await asyncio.sleep(0.2)
    ticker = stream_watch._TICKERS[asyncio.get_running_loop()]  # the streams' one disconnect timer (same loop here)
    assert not ticker._streams and ticker._timer is None  # it runs only while streams are open


async def test_system_prompt_is_byte_stable_until_a_block_changes(server: Running) -> None:
    agent = await server.create_agent()
    client = server.client()
    history: list[dict[str, str]] = []
    for text in ("Hi.", "How are you?"):
        history.append({"role": "user", "content": text})
        _, reply = await collect(await client.chat.completions.create(model=agent["id"], messages=history,
                                                                      stream=True))
        history.append({"role": "assistant", "content": reply})
    first, second = (r["messages"][0]["content"] for r in server.fake.requests)
    assert first == second
    assert "Current time" not in first  # volatile facts ride on the last user message instead
    assert "Current time" in server.fake.requests[1]["messages"][-1]["content"]
    status, _ = await server.request("PATCH", f"/v1/agents/{agent['id']}/blocks/human",
                                     json={"value": "The user's name is Ada."})
    assert status == 200
    history.append({"role": "user", "content": "Who am I?"})
    await collect(await client.chat.completions.create(model=agent["id"], messages=history, stream=True))
    third = server.fake.requests[2]["messages"][0]["content"]
    assert third != second and "The user's name is Ada." in third


async def test_resent_history_and_retries_are_stored_once(server: Running) -> None:
    agent = await server.create_agent()
    client = server.client()
    body = [{"role": "system", "content": "You are a helpful voice bot."},
            {"role": "user", "content": "My name is Sam."}]
    server.fake.script([Text("Nice to meet you, Sam.")])
    _, reply = await collect(await client.chat.completions.create(model=agent["id"], messages=body, stream=True))
    # LiveKit retries the very same request after a timeout: no second user row, same answer.
    _, again = await collect(await client.chat.completions.create(model=agent["id"], messages=body, stream=True))
    assert again == reply
    assert len(server.fake.requests) == 1
    body += [{"role": "assistant", "content": reply}, {"role": "user", "content": "What's my name?"}]
    server.fake.script([Text("Your name is Sam.")])
    await collect(await client.chat.completions.create(model=agent["id"], messages=body, stream=True))
    rows = await messages_of(server, agent["id"])
    assert [(m.role, m.content) for m in rows] == [
        ("user", "My name is Sam."), ("assistant", "Nice to meet you, Sam."),
        ("user", "What's my name?"), ("assistant", "Your name is Sam.")]
    # the client's system prompt is ignored by default
    assert "helpful voice bot" not in server.fake.requests[-1]["messages"][0]["content"]


async def test_a_reply_the_client_sends_back_cut_short_is_stored_as_heard(server: Running) -> None:
    """LiveKit and Pipecat keep only what was played of an interrupted reply and send that back: the stored
    reply said the whole text (never heard), unlike a barge-in on a voice socket, which keeps what was heard."""
    agent = await server.create_agent()
    client = server.client()
    story = "The river is long. It runs past many old towns and farms."
    # the framework greeted the caller itself: stored with the input, it is not part of the agent's reply
    body: list[dict[str, str]] = [{"role": "assistant", "content": "Hello, river guide here."},
                                  {"role": "user", "content": "Tell me about the river."}]
    server.fake.script([Text(story)], [Text("Sure.")], [Text("Yes.")])
    await collect(await client.chat.completions.create(model=agent["id"], messages=body, stream=True))
    body += [{"role": "assistant", "content": "The river is long. It runs past"},
             {"role": "user", "content": "Wait, which river?"}]
    await collect(await client.chat.completions.create(model=agent["id"], messages=body, stream=True))
    rows = await messages_of(server, agent["id"])
    assert [(m.content, m.interrupted) for m in rows if m.role == "assistant"][:2] == [
        ("Hello, river guide here.", False), ("The river is long. It runs past", True)]
    sent = server.fake.requests[-1]["messages"]
    assert [m["content"] for m in sent if m["role"] == "assistant"] == [
        "Hello, river guide here.", "The river is long. It runs past—"]
    # a client that only drops the final period (or spaces) did hear it all: nothing is cut
    body += [{"role": "assistant", "content": "Sure"}, {"role": "user", "content": "Go on."}]
    await collect(await client.chat.completions.create(model=agent["id"], messages=body, stream=True))
    rows = await messages_of(server, agent["id"])
    assert [(m.content, m.interrupted) for m in rows if m.role == "assistant"][2] == ("Sure.", False)


async def test_client_greeting_unknown_to_server_is_recorded(server: Running) -> None:
    agent = await server.create_agent(client_system_prompt="append")
    messages = [{"role": "system", "content": "Speak like a pirate."},
                {"role": "assistant", "content": "Hi, what's your name?"},
                {"role": "user", "content": "Ada."}]
    await collect(await server.client().chat.completions.create(model=agent["id"], messages=messages, stream=True))
    rows = await messages_of(server, agent["id"])
    assert [(m.role, m.content) for m in rows][:2] == [("assistant", "Hi, what's your name?"), ("user", "Ada.")]
    assert "Speak like a pirate." in server.fake.requests[0]["messages"][0]["content"]


async def test_client_tools_end_the_response_and_resume_with_results(server: Running) -> None:
    agent = await server.create_agent()
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city", "strict": True,
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                       "additionalProperties": False}}}]
    server.fake.script([ToolCall("get_weather", '{"city": "Paris"}', id="call_w1")], [Text("It is sunny in Paris.")])
    client = server.client()
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Paris?"}]
    chunks, _ = await collect(await client.chat.completions.create(model=agent["id"], messages=messages,
                                                                   tools=tools, stream=True))
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["tool_calls"]
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].id == "call_w1" and calls[0].function.name == "get_weather"
    assert "".join(tc.function.arguments or "" for tc in calls) == '{"city": "Paris"}'
    offered = {t["function"]["name"] for t in server.fake.requests[0]["tools"]}
    assert {"get_weather", "search_memory"} <= offered
    messages += [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_w1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_w1", "content": "sunny, 24 C"}]
    _, text = await collect(await client.chat.completions.create(model=agent["id"], messages=messages,
                                                                 tools=tools, stream=True))
    assert text == "It is sunny in Paris."
    second = server.fake.requests[1]["messages"]
    assert second[-1] == {"role": "tool", "tool_call_id": "call_w1", "content": "sunny, 24 C"}
    rows = await messages_of(server, agent["id"])
    assert [m.role for m in rows] == ["user", "assistant", "tool", "assistant"]


async def test_malformed_arguments_are_fed_back_as_an_error(server: Running) -> None:
    agent = await server.create_agent()
    server.fake.script(
        [ToolCall("search_memory", '{"pre_exec_msg": "Checking.", "start_minutes_ago": "yesterday"')],
        [Text("Sorry, let me answer directly.")])
    _, text = await collect(await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "Recall."}], stream=True))
    assert text.endswith("Sorry, let me answer directly.")
    tool_msg = server.fake.requests[1]["messages"][-1]
    assert tool_msg["role"] == "tool" and tool_msg["content"].startswith("Error: invalid arguments")


async def test_tool_rounds_are_bounded(server: Running) -> None:
    agent = await server.create_agent(max_tool_rounds=2)
    call = ToolCall("search_memory", json.dumps({"pre_exec_msg": "Looking.", "convo_keyword_queries": None,
                                                  "start_minutes_ago": None, "end_minutes_ago": None}))
    server.fake.script([call], [call], [Text("Here is what I know.")])
    _, text = await collect(await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "Search forever."}], stream=True))
    assert text.endswith("Here is what I know.")
    assert [r.get("tool_choice") for r in server.fake.requests] == ["auto", "auto", "none"]


async def test_a_model_that_ignores_tool_choice_none_cannot_loop_past_the_rounds(server: Running) -> None:
    # Ollama ignores tool_choice, and a small model repeats a broken call: before, the server ran every call the model
    # made after the cap, until the 45 s turn budget (one "hi": 1,650 model calls, 3,300 stored messages).
    agent = await server.create_agent(max_tool_rounds=2)
    broken = ToolCall("search_memory", '{"convo_keyword_queries": ["sis')
    server.fake.script(*([broken] for _ in range(6)))
    started = time.monotonic()
    chunks, text = await collect(await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "hi"}], stream=True))
    assert time.monotonic() - started < 20
    assert text == "Sorry, I don't have an answer for that."
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert [r.get("tool_choice") for r in server.fake.requests] == ["auto", "auto", "none"]
    rows = await messages_of(server, agent["id"])
    assert [m.role for m in rows] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert rows[-1].content == text and not rows[-1].tool_calls


async def test_a_reasoning_models_thoughts_and_text_tool_calls_are_never_said(server: Running) -> None:
    # DeepSeek-R1 distills / Qwen3 behind a server with no reasoning parser stream "<think>…</think>" as content; a
    # server with no tool-call parser streams Hermes "<tool_call>{…}</tool_call>": both were spoken and stored. (A
    # block naming an offered tool is run as a call: tests/integration/providers/test_wrong_answers_at_the_doors.py.)
    agent = await server.create_agent()
    server.fake.script([Text("<think>\nThe user says hi. I should"), Text(" greet them briefly.\n</th"),
                        Text("ink>\n\nHello! How can I help?")],
                       [Text('<tool_call>\n{"name": "web_search", "arguments": {"query": "sister"}}\n</tool_call>')])
    _, text = await collect(await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "hi"}], stream=True))
    assert text == "Hello! How can I help?"
    reply = await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": text},
                                     {"role": "user", "content": "where does my sister live?"}])
    assert reply.choices[0].message.content == "Sorry, I don't have an answer for that."
    said = [m.content for m in await messages_of(server, agent["id"]) if m.role == "assistant"]
    assert said == ["Hello! How can I help?", "Sorry, I don't have an answer for that."]


@pytest.mark.parametrize("arguments", [
    '{"pre_exec_msg": "Let me check.", "convo_keyword_queries": ["sister"]}',  # nullable fields left out
    '{"convo_keyword_queries": "sister"}',  # no filler, one string for the list
    '{"pre_exec_msg": "Let me check.", "convo_keyword_queries": ["sister"], "start_minutes_ago": "0", '
    '"end_minutes_ago": "600000", "query": "sister"}',  # minutes as strings, a name the tool does not have
])
async def test_search_memory_takes_the_arguments_models_write_outside_strict_mode(server: Running,
                                                                                  arguments: str) -> None:
    # Models not held to OpenAI's strict mode (Llama, Qwen, Claude) leave nullable fields out, write one keyword as
    # a string or a number as text: each was an "invalid arguments" tool result and a round spent (3 = the cap).
    agent = await server.create_agent()
    await server.store.insert_passages([Passage(id="psg-sister", agent_id=agent["id"], text="My sister Ana lives in "
                                                "Porto.", start_at=time.time() - 3600, end_at=time.time() - 3600,
                                                created_at=time.time() - 3600)])
    server.fake.script([ToolCall("search_memory", arguments)], [Text("She lives in Porto.")])
    _, text = await collect(await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "where does my sister live?"}], stream=True))
    assert text.endswith("She lives in Porto.")
    result = server.fake.requests[1]["messages"][-1]
    assert result["role"] == "tool" and "Porto" in result["content"], result["content"]


async def test_keepalive_comments_during_slow_model(tmp_path: Any, fake_openai: Any) -> None:
    running, runner = await start_server(tmp_path, fake_openai, api_key=None, sse_keepalive_s=0.1)
    try:
        agent = await running.create_agent()
        fake_openai.script([Pause(0.5), Text("Finally.")])
        async with aiohttp.ClientSession() as s, s.post(f"{running.url}/v1/chat/completions", json={
                "model": agent["id"], "stream": True, "messages": [{"role": "user", "content": "Hi"}]}) as r:
            body = (await r.read()).decode()
        assert body.count(": keepalive") >= 2 and "Finally." in body
    finally:
        await runner.cleanup()


async def test_headers_go_out_while_the_agent_is_busy_with_another_turn(tmp_path: Any, fake_openai: Any) -> None:
    """A stream's headers normally leave with its first chunk (one send); a request queued behind another turn of
    the same agent still gets them after the keep-alive interval, so its client does not time out waiting."""
    running, runner = await start_server(tmp_path, fake_openai, api_key=None, sse_keepalive_s=0.8)
    try:
        agent = await running.create_agent()
        fake_openai.script([Pause(2.5), Text("First.")], [Text("Second.")])

        async with aiohttp.ClientSession() as s:
            async def ask(words: str) -> tuple[float, str]:
                async with s.post(f"{running.url}/v1/chat/completions", json={
                        "model": agent["id"], "stream": True, "messages": [{"role": "user", "content": words}]}) as r:
                    assert r.status == 200 and r.headers["Content-Type"] == "text/event-stream"
                    return time.monotonic(), (await r.read()).decode()

            first = asyncio.create_task(ask("Hi"))
            await asyncio.sleep(0.3)  # the first turn is running (the model pauses)
            sent = time.monotonic()
            async with s.post(f"{running.url}/v1/chat/completions", json={
                    "model": agent["id"], "stream": True, "messages": [{"role": "user", "content": "Hello?"}]}) as r:
                headers_at = time.monotonic()
                assert not first.done()  # the headers came while the other turn still ran
                assert r.status == 200 and headers_at - sent < 1.3  # one keep-alive interval, not two
                body = (await r.read()).decode()
            assert body.startswith(": keepalive") and "Second." in body and "[DONE]" in body
            assert "First." in (await first)[1]
    finally:
        await runner.cleanup()


async def test_non_streaming_completion(server: Running) -> None:
    agent = await server.create_agent()
    server.fake.script([Text("Plain answer.")])
    completion = await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "Hi"}])
    assert completion.choices[0].message.content == "Plain answer."
    assert completion.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("body,status,code", [
    (b"{not json", 400, "invalid_request"),
    (json.dumps({"messages": [{"role": "user", "content": "x"}]}).encode(), 400, "invalid_request"),
    (json.dumps({"model": "AGENT", "messages": []}).encode(), 400, "invalid_request"),
    (json.dumps({"model": "AGENT", "messages": [{"role": "wizard", "content": "x"}]}).encode(), 400,
     "invalid_request"),
    (json.dumps({"model": "AGENT", "messages": [{"role": "user", "content": "x"},
                                                {"role": "assistant", "content": "y"}]}).encode(), 400,
     "invalid_request"),
    (json.dumps({"model": "agent-nope", "messages": [{"role": "user", "content": "x"}]}).encode(), 404,
     "model_not_found"),
    (json.dumps({"model": "AGENT", "messages": [{"role": "user", "content": "x" * 3_000_000}]}).encode(), 413,
     "request_too_large"),
])
async def test_malformed_requests_get_4xx_and_persist_nothing(server: Running, body: bytes, status: int,
                                                              code: str) -> None:
    agent = await server.create_agent()
    body = body.replace(b"AGENT", agent["id"].encode())
    async with aiohttp.ClientSession() as s, s.post(f"{server.url}/v1/chat/completions", data=body,
                                                    headers={"Content-Type": "application/json"}) as r:
        assert r.status == status
        data = await r.json()
    assert data["error"]["code"] == code and data["error"]["message"]
    assert await messages_of(server, agent["id"]) == []
    assert server.fake.requests == []


async def test_parallel_tool_calls_are_all_executed(server: Running) -> None:
    agent = await server.create_agent()
    first = json.dumps({"pre_exec_msg": "Checking two things.", "convo_keyword_queries": ["paris"],
                        "start_minutes_ago": None, "end_minutes_ago": None})
    second = json.dumps({"pre_exec_msg": "And another.", "convo_keyword_queries": ["rome"],
                         "start_minutes_ago": None, "end_minutes_ago": None})
    server.fake.script([ToolCall("search_memory", first, id="call_a"), ToolCall("search_memory", second, id="call_b")],
                       [Text("Nothing on either.")])
    _, text = await collect(await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "Paris or Rome?"}], stream=True))
    assert text == "Checking two things. And another. Nothing on either."
    follow_up = server.fake.requests[1]["messages"]
    assert [m.get("tool_call_id") for m in follow_up[-2:]] == ["call_a", "call_b"]
    assert len(follow_up[-3]["tool_calls"]) == 2


async def test_retry_after_a_failed_turn_runs_it_again_without_storing_the_input_twice(server: Running) -> None:
    agent = await server.create_agent()
    body = [{"role": "user", "content": "Are you there?"}]
    server.fake.script([HttpError(500)], [HttpError(500)], [HttpError(500)])
    with pytest.raises(openai.APIError):
        await collect(await server.client().chat.completions.create(model=agent["id"], messages=body, stream=True))
    server.fake.script([Text("Yes, I'm here.")])
    _, text = await collect(await server.client().chat.completions.create(model=agent["id"], messages=body,
                                                                          stream=True))
    assert text == "Yes, I'm here."
    rows = await messages_of(server, agent["id"])
    assert [m.content for m in rows if m.role == "user"] == ["Are you there?"]
    assert rows[-1].content == "Yes, I'm here."
    # the request that follows sees the good answer, not the fallback, in its context
    server.fake.script([Text("Still here.")])
    await collect(await server.client().chat.completions.create(model=agent["id"], messages=[
        *body, {"role": "assistant", "content": "Yes, I'm here."}, {"role": "user", "content": "Good."}], stream=True))
    context = [m.get("content") for m in server.fake.requests[-1]["messages"][1:]]
    assert context[:2] == ["Are you there?", "Yes, I'm here."]
