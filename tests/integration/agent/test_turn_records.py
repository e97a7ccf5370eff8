"""Turn records and retries: replay only a retry, preemptive generation leaves no duplicate, unfinished turns
are visible, who answered and what a cut-off turn spent are recorded."""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.openai_server import Pause, Text
from tests.integration.agent.conftest import Running, anthropic_llm, openai_llm, start_server
from voice_letta import config as C
from voice_letta import ids
from voice_letta.agent.models import Message, TurnRecord
from voice_letta.server.keys import AGENT
from voice_letta.server.recovery import holder_is_dead_here, recover


async def say(server: Running, agent_id: str, messages: list[dict[str, str]], **kw: Any) -> str:
    completion = await server.client().chat.completions.create(model=agent_id, messages=messages, **kw)
    return completion.choices[0].message.content or ""


async def turns(server: Running, agent_id: str, **query: str) -> list[dict[str, Any]]:
    status, body = await server.request("GET", f"/v1/agents/{agent_id}/turns", params=query)
    assert status == 200, body
    return list(body["data"])


async def user_rows(server: Running, agent_id: str) -> list[str | None]:
    return [m.content for m in await server.store.list_messages(agent_id) if m.role == "user"]


async def cut_after(server: Running, agent_id: str, messages: list[dict[str, str]], seen: bytes
                    ) -> list[dict[str, Any]]:
    """Stream a request, drop the connection once ``seen`` arrived (a client going away mid-reply), and return the
    agent's turn records once the cut turn is no longer running."""
    async with aiohttp.ClientSession() as s:
        resp = await s.post(f"{server.url}/v1/chat/completions",
                            json={"model": agent_id, "stream": True, "messages": messages})
        got = b""
        while seen not in got:
            got += await resp.content.readany()
        resp.close()
    for _ in range(100):
        records = await turns(server, agent_id)
        if records and records[0]["status"] != "running":
            break
        await asyncio.sleep(0.05)
    return records


async def test_a_returning_caller_is_answered_by_the_model_not_from_storage(server: Running) -> None:
    agent = await server.create_agent()
    hello = [{"role": "user", "content": "Hello? Is anyone there?"}]
    server.fake.script([Text("Yes, I'm here.")], [Text("Sure.")], [Text("Hi again!")])
    assert await say(server, agent["id"], hello) == "Yes, I'm here."
    await say(server, agent["id"], [*hello, {"role": "assistant", "content": "Yes, I'm here."},
                                    {"role": "user", "content": "Thanks."}])
    # a new call, same first words: not the latest turn, so not a retry
    assert await say(server, agent["id"], hello) == "Hi again!"
    assert len(server.fake.requests) == 3
    assert await user_rows(server, agent["id"]) == ["Hello? Is anyone there?", "Thanks.", "Hello? Is anyone there?"]


async def test_the_same_request_after_the_replay_window_is_a_new_turn(server: Running) -> None:
    agent = await server.create_agent()
    hi = [{"role": "user", "content": "Hi"}]
    server.fake.script([Text("First.")], [Text("Second.")])
    assert await say(server, agent["id"], hi) == "First."
    assert await say(server, agent["id"], hi) == "First."  # a retry: replayed, model not called
    assert len(server.fake.requests) == 1
    loop_agent = server.app[AGENT]
    real = loop_agent.clock
    loop_agent.clock = lambda: real() + C.REPLAY_WINDOW_S + 5
    try:
        assert await say(server, agent["id"], hi) == "Second."
    finally:
        loop_agent.clock = real
    assert len(server.fake.requests) == 2


async def test_a_resend_after_a_restart_is_recognised_though_the_server_was_down_longer_than_the_window(
        server: Running) -> None:
    """Time the server was down does not count against the replay window: a client resending, once the server is
    back, the request a crash cut off (it may have missed the end of the reply) gets the stored reply."""
    agent = await server.create_agent()
    hi = [{"role": "user", "content": "Hi"}]
    server.fake.script([Text("First.")], [Text("Second.")], [Text("Third.")])
    assert await say(server, agent["id"], hi) == "First."
    loop_agent = server.app[AGENT]
    real, started = loop_agent.clock, loop_agent.started_at

    def at(ended_ago: float, up_for: float) -> None:  # the turn ended `ended_ago` s ago; this process is `up_for` s old
        loop_agent.clock = lambda: real() + ended_ago
        loop_agent.started_at = real() + ended_ago - up_for

    try:
        at(C.REPLAY_WINDOW_S + 40, up_for=5)  # down for 95 s, resent 5 s after the restart: a retry
        assert await say(server, agent["id"], hi) == "First."
        assert len(server.fake.requests) == 1
        at(C.REPLAY_WINDOW_S + 40, up_for=C.REPLAY_WINDOW_S + 1)  # the same, but the process is up for a minute
        assert await say(server, agent["id"], hi) == "Second."
        # the latest turn ("Second.", ended on the clock above) ended more than 10 min before a restart
        at(C.REPLAY_WINDOW_S + 40 + C.RETRY_WINDOW_S + 30, up_for=5)
        assert await say(server, agent["id"], hi) == "Third."
    finally:
        loop_agent.clock, loop_agent.started_at = real, started
    assert len(server.fake.requests) == 3


async def test_idempotency_key_replays_its_turn_and_refuses_other_input(server: Running) -> None:
    agent = await server.create_agent()
    server.fake.script([Text("Keyed answer.")], [Text("Other.")])
    hi = [{"role": "user", "content": "Hi"}]
    key = {"extra_headers": {"Idempotency-Key": "req-42"}}
    assert await say(server, agent["id"], hi, **key) == "Keyed answer."
    await say(server, agent["id"], [{"role": "user", "content": "Something else"}])  # another turn in between
    loop_agent = server.app[AGENT]
    real = loop_agent.clock
    loop_agent.clock = lambda: real() + C.REPLAY_WINDOW_S + 5  # past the window: the key still finds it
    try:
        assert await say(server, agent["id"], hi, **key) == "Keyed answer."
    finally:
        loop_agent.clock = real
    assert len(server.fake.requests) == 2
    with pytest.raises(openai.ConflictError) as info:
        await say(server, agent["id"], [{"role": "user", "content": "Different"}], **key)
    assert info.value.body["code"] == "idempotency_key_reused"  # type: ignore[index]
    assert await user_rows(server, agent["id"]) == ["Hi", "Something else"]


async def test_the_same_words_said_twice_by_a_client_without_history_are_two_turns_with_a_key_each(
        server: Running) -> None:
    """docs/protocol.md: a client that sends only the new message and says "yes" to two questions in a row must
    send a key per utterance; without one, the second "yes" is taken for a retry of the first."""
    agent = await server.create_agent()
    server.fake.script([Text("Booked for Monday.")], [Text("And the reminder is set.")])
    yes = [{"role": "user", "content": "yes"}]
    assert await say(server, agent["id"], yes, extra_headers={"Idempotency-Key": "utt-1"}) == "Booked for Monday."
    assert await say(server, agent["id"], yes, extra_headers={"Idempotency-Key": "utt-2"}) == "And the reminder is set."
    assert len(server.fake.requests) == 2
    assert await user_rows(server, agent["id"]) == ["yes", "yes"]
    assert await say(server, agent["id"], yes) == "And the reminder is set."  # no key: the latest turn's retry
    assert len(server.fake.requests) == 2


async def test_preemptive_generation_leaves_no_duplicate_user_message(server: Running) -> None:
    agent = await server.create_agent()
    server.fake.script([Pause(5), Text("never heard")], [Text("It's sunny.")])
    async with aiohttp.ClientSession() as s:
        # the framework starts on an interim transcript, then cancels before any output...
        resp = await s.post(f"{server.url}/v1/chat/completions", json={
            "model": agent["id"], "stream": True, "messages": [{"role": "user", "content": "What's the wea"}]})
        await resp.content.readany()  # the role chunk: the turn started
        resp.close()
    for _ in range(100):
        if [t["status"] for t in await turns(server, agent["id"])] == ["abandoned"]:
            break
        await asyncio.sleep(0.05)
    assert [t["status"] for t in await turns(server, agent["id"])] == ["abandoned"]
    # ...and sends the final words: they replace the abandoned ones
    assert await say(server, agent["id"], [{"role": "user", "content": "What's the weather today?"}]) == "It's sunny."
    assert await user_rows(server, agent["id"]) == ["What's the weather today?"]
    sent = server.fake.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user"]
    assert [t["status"] for t in await turns(server, agent["id"])] == ["abandoned", "completed"]


async def test_a_reply_cut_after_some_output_is_kept_with_its_estimated_cost(server: Running) -> None:
    agent = await server.create_agent()
    server.fake.script([Text("The first half of a long answer"), Pause(5), Text(" and the rest.")])
    (record,) = await cut_after(server, agent["id"], [{"role": "user", "content": "Tell me a story."}], b"first half")
    assert record["status"] == "cancelled" and record["provider"] == "openai" and record["model"] == "fake-model"
    usage = record["usage"]
    assert usage["estimated"] is True and usage["prompt_tokens"] > 0 and usage["completion_tokens"] >= 5
    # the next, different, request is a new turn: the cut reply stays, marked interrupted
    server.fake.script([Text("Fine.")])
    await say(server, agent["id"], [{"role": "user", "content": "Stop."}])
    assert await user_rows(server, agent["id"]) == ["Tell me a story.", "Stop."]


async def test_a_resend_of_a_cut_request_is_its_retry_even_after_other_turns_ran(server: Running) -> None:
    """The openai SDK re-sends a cut request without a key; when other requests to the agent ran in between, the
    re-send is not the agent's latest turn but still the cut turn's retry: the words are stored once and the
    model is asked them last."""
    agent = await server.create_agent()
    story = [{"role": "user", "content": "Tell me a story."}]
    server.fake.script([Text("Once upon a time"), Pause(5), Text(" the end.")], [Text("Fine.")],
                       [Text("A dragon slept.")])
    records = await cut_after(server, agent["id"], story, b"Once upon")
    assert [r["status"] for r in records] == ["cancelled"]
    assert await say(server, agent["id"], [{"role": "user", "content": "What time is it?"}]) == "Fine."
    assert await say(server, agent["id"], story) == "A dragon slept."
    assert await user_rows(server, agent["id"]) == ["Tell me a story.", "What time is it?"]
    asked = server.fake.requests[-1]["messages"]
    assert asked[-1]["role"] == "user" and asked[-1]["content"].endswith("Tell me a story.")
    assert [m.get("content") for m in asked[1:-1]] == ["What time is it?", "Fine."]  # the cut attempt is dropped
    records = await turns(server, agent["id"])
    assert [(r["id"], r["status"]) for r in records] == [(records[0]["id"], "completed"), (records[1]["id"],
                                                                                           "completed")]
    rows = await server.store.list_messages(agent["id"])
    assert rows[-1].content == "A dragon slept." and rows[-1].turn_id == records[0]["id"]


async def test_turn_records_say_who_answered(server: Running) -> None:
    claude = FakeAnthropicServer()
    await claude.start()
    try:
        agent = await server.create_agent(llm=openai_llm(server.fake, first_token_timeout_s=0.3,
                                                         fallback=anthropic_llm(claude)))
        server.fake.usage = {"prompt_tokens": 50, "completion_tokens": 3, "cached_tokens": 32}
        await say(server, agent["id"], [{"role": "user", "content": "One"}])
        server.fake.script([Pause(10)])
        claude.script([Text("From Claude.")])
        await say(server, agent["id"], [{"role": "user", "content": "Two"}])
    finally:
        await claude.aclose()
    first, second = await turns(server, agent["id"])
    assert (first["status"], first["provider"], first["model"], first["fallback_used"]) == (
        "completed", "openai", "fake-model", False)
    assert first["first_token_ms"] > 0 and first["usage"]["cached_tokens"] == 32
    assert (second["provider"], second["model"], second["fallback_used"]) == ("anthropic", "claude-fake", True)
    assert "fingerprint" not in first
    assert [t["id"] for t in await turns(server, agent["id"], status="completed", limit="1")] == [second["id"]]
    status, _ = await server.request("GET", f"/v1/agents/{agent['id']}/turns", params={"status": "weird"})
    assert status == 400


def _exit_at_once() -> None:
    return None


async def test_a_crashed_servers_turn_is_marked_incomplete_and_its_lease_given_back(
        tmp_path: Path, fake_openai: Any) -> None:
    proc = multiprocessing.get_context("spawn").Process(target=_exit_at_once)
    proc.start()
    proc.join()
    dead = f"{socket.gethostname()}:{proc.pid}:deadbeef"
    assert holder_is_dead_here(dead) and not holder_is_dead_here(f"other-host:{proc.pid}:x")
    running, runner = await start_server(tmp_path, fake_openai, api_key=None)
    try:
        agent = await running.create_agent()
        store = running.store
        turn = TurnRecord(id=ids.turn_id(), agent_id=agent["id"], fingerprint="f")
        row = Message(id=ids.message_id(), agent_id=agent["id"], role="user", content="cut by a crash",
                      turn_id=turn.id)
        assert await store.begin_turn(turn, [row], holder=dead, lease_s=60, now=time.time()) is not None
        assert await recover(store) == (1, 1)  # what the next start does
        (record,) = await turns(running, agent["id"])
        assert record["status"] == "incomplete" and record["stop_reason"] == "server_stopped"
        # the agent is free at once, not after its lease would have run out
        fake_openai.script([Text("Back.")])
        assert await say(running, agent["id"], [{"role": "user", "content": "Hello?"}]) == "Back."
    finally:
        await runner.cleanup()


async def test_turns_need_the_key_or_a_read_token(tmp_path: Path, fake_openai: Any) -> None:
    running, runner = await start_server(tmp_path, fake_openai, api_key="k")
    try:
        agent = await running.create_agent()
        status, token = await running.request("POST", "/v1/tokens", json={"agent": agent["id"], "scopes": ["read"]})
        assert status == 200
        running.api_key = None
        assert (await running.request("GET", f"/v1/agents/{agent['id']}/turns"))[0] == 401
        running.api_key = token["token"]
        assert (await running.request("GET", f"/v1/agents/{agent['id']}/turns"))[0] == 200
    finally:
        await runner.cleanup()
