"""``PATCH /v1/agents/{id}/archival/{passage_id}`` on a real server: a wrong fact corrected in place is found by its
new words and no longer by the old ones; the edit is checked like an insert, scoped to the agent, retried safely
with an ``Idempotency-Key``, and live sessions hear ``memory.updated``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.agent.conftest import Running, start_server
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.session.conftest import start_voice_server


async def patch(server: Running, path: str, body: Any, key: str | None = None) -> tuple[int, Any, bool]:
    headers = {**server.headers(), **({"Idempotency-Key": key} if key else {})}
    async with aiohttp.ClientSession() as s, s.patch(server.url + path, json=body, headers=headers) as r:
        return r.status, await r.json(content_type=None), r.headers.get("Idempotent-Replayed") == "true"


async def search(server: Running, base: str, query: str) -> list[dict[str, Any]]:
    status, found = await server.request("GET", f"{base}/search", params={"query": query})
    assert status == 200, found
    return list(found["data"])


async def test_an_edited_passage_is_found_by_its_new_words_and_not_its_old_ones(server: Running) -> None:
    agent = await create_voice_agent(server)
    base = f"/v1/agents/{agent['id']}/archival"
    said = time.time() - 86_400
    status, wrong = await server.request("POST", base, json={
        "text": "user: my sister Ines lives in Porto", "synopsis": "The user's sister Ines lives in Porto.",
        "start_at": said})
    assert status == 201, wrong
    status, other = await server.request("POST", base, json={"text": "user: I keep bees on the allotment"})
    assert status == 201
    assert (await search(server, base, "Porto"))[0]["id"] == wrong["id"]  # loads the index before the edit
    status, fixed, _ = await patch(server, f"{base}/{wrong['id']}", {"text": "user: my sister Ines lives in Lisbon"})
    assert status == 200, fixed
    assert (fixed["id"], fixed["text"], fixed["synopsis"]) == (wrong["id"], "user: my sister Ines lives in Lisbon", "")
    assert (fixed["start_at"], fixed["end_at"], fixed["created_at"]) == (said, said, wrong["created_at"])
    assert fixed["embedding_model"] == wrong["embedding_model"] and "embedding" not in fixed
    found = await search(server, base, "Lisbon")
    assert found[0]["id"] == wrong["id"] and found[0]["text"].endswith("Lisbon")
    assert found[0]["confidence"] > (await search(server, base, "Porto") or [{"confidence": 0}])[0]["confidence"]
    assert all("Porto" not in p["text"] + p["synopsis"] for p in await search(server, base, "Porto"))
    asked = await search(server, base, "where does my sister live?")
    assert asked[0]["text"] == "user: my sister Ines lives in Lisbon"  # by meaning: the new vector
    status, listed = await server.request("GET", base)
    assert [p["text"] for p in listed["data"]] == ["user: my sister Ines lives in Lisbon",
                                                   "user: I keep bees on the allotment"]
    # a passage said at one moment moves whole when only start_at is given; the words and vector stay
    status, moved, _ = await patch(server, f"{base}/{other['id']}", {"start_at": said - 3600})
    assert (status, moved["start_at"], moved["end_at"], moved["text"]) == (
        200, said - 3600, said - 3600, "user: I keep bees on the allotment")


async def test_an_edit_is_checked_like_an_insert_and_scoped_to_its_agent(server: Running) -> None:
    agent = await create_voice_agent(server)
    stranger = await create_voice_agent(server, name="stranger")
    base = f"/v1/agents/{agent['id']}/archival"
    status, mine = await server.request("POST", base, json={"text": "user: the gate code is 4417", "start_at": 1e9,
                                                            "end_at": 1e9 + 60})
    assert status == 201
    url = f"{base}/{mine['id']}"
    cases: list[tuple[Any, str | None]] = [
        ({"text": "x" * 20_001}, "text"), ({"text": " \u200b\n"}, "text"), ({"text": ""}, "text"),
        ({"synopsis": "s" * 2_001}, "synopsis"), ({"start_at": True}, "start_at"), ({"end_at": "5"}, "end_at"),
        ({"end_at": 1e9 - 1}, "end_at"), ({"start_at": 1e9 + 61}, "start_at"),
        ({"start_at": time.time() * 1000}, "start_at"), ({"end_at": time.time() + 7 * 86_400}, "end_at"),
        ({"passage_id": "x"}, "passage_id"), ({}, None), ({"text": None}, None)]
    for body, param in cases:
        status, error, _ = await patch(server, url, body)
        assert (status, error["error"]["code"], error["error"]["param"]) == (400, "invalid_request", param), body
    # another agent's passage, an unknown id, an unknown agent: 404, nothing changed
    for path in (f"/v1/agents/{stranger['id']}/archival/{mine['id']}", f"{base}/passage-nope",
                 f"/v1/agents/agent-nope/archival/{mine['id']}"):
        status, error, _ = await patch(server, path, {"text": "user: the gate code is 0000"})
        assert (status, error["error"]["code"]) == (404, "not_found"), path
    status, listed = await server.request("GET", base)
    assert [(p["text"], p["start_at"], p["end_at"]) for p in listed["data"]] == [
        ("user: the gate code is 4417", 1e9, 1e9 + 60)]


async def test_a_retried_edit_is_the_first_ones_replay(server: Running) -> None:
    agent = await create_voice_agent(server)
    base = f"/v1/agents/{agent['id']}/archival"
    ids = []
    for text in ("user: my locker is number 12", "user: my bike lock code is 1234"):
        status, made = await server.request("POST", base, json={"text": text})
        ids.append(made["id"])
    body = {"text": "user: my locker is number 21"}
    status, first, replayed = await patch(server, f"{base}/{ids[0]}", body, key="fix-locker")
    assert (status, replayed, first["text"]) == (200, False, "user: my locker is number 21")
    # a later edit by someone else, then the retry: the replay, and the later edit stays
    assert (await patch(server, f"{base}/{ids[0]}", {"synopsis": "Locker 21."}))[0] == 200
    assert await patch(server, f"{base}/{ids[0]}", body, key="fix-locker") == (200, first, True)
    status, listed = await server.request("GET", base)
    assert listed["data"][0]["synopsis"] == "Locker 21."
    for other_body, path in ((body | {"synopsis": "x"}, f"{base}/{ids[0]}"), (body, f"{base}/{ids[1]}")):
        status, error, _ = await patch(server, path, other_body, key="fix-locker")
        assert (status, error["error"]["code"]) == (409, "idempotency_key_reused")
    # a failed edit keeps nothing under its key: corrected, it runs
    assert (await patch(server, f"{base}/{ids[1]}", {"text": ""}, key="fix-lock"))[0] == 400
    status, done, replayed = await patch(server, f"{base}/{ids[1]}", {"text": "user: my bike lock code is 4321"},
                                         key="fix-lock")
    assert (status, replayed, done["text"]) == (200, False, "user: my bike lock code is 4321")


async def test_an_edit_reaches_live_sessions(tmp_path: Path, fake_openai: FakeOpenAIServer) -> None:
    vs = await start_voice_server(tmp_path, fake_openai)
    try:
        agent = await vs.create_agent()
        async with await vs.client(agent) as c, aiohttp.ClientSession() as http:
            await c.send(type="ping")
            await c.wait_for("pong")
            async with http.post(f"{vs.url}/v1/agents/{agent}/archival", json={"text": "user: I drive a red van"}) as r:
                created = await r.json()
            await c.wait_for("memory.updated")
            async with http.patch(f"{vs.url}/v1/agents/{agent}/archival/{created['id']}",
                                  json={"text": "user: I drive a green van"}) as r:
                assert r.status == 200
            ev = await c.wait_for("memory.updated", count=2)
            assert (ev["reason"], ev["passages_added"], ev["passages_removed"]) == ("rest", 0, 0)
    finally:
        await vs.runner.cleanup()


async def test_two_edits_at_once_keep_both_changes(server: Running) -> None:
    agent = await create_voice_agent(server)
    base = f"/v1/agents/{agent['id']}/archival"
    _, made = await server.request("POST", base, json={"text": "user: the boat leaves at 9", "start_at": 1e9})
    url = f"{base}/{made['id']}"
    for round_ in range(4):
        text, start = f"user: the boat leaves at {10 + round_}", 1e9 + 3600 * (round_ + 1)
        done = await asyncio.gather(patch(server, url, {"text": text}), patch(server, url, {"start_at": start}))
        assert [status for status, _, _ in done] == [200, 200], done
        _, listed = await server.request("GET", base)
        assert [(p["text"], p["start_at"]) for p in listed["data"]] == [(text, start)], round_
    assert (await search(server, base, "when does the boat leave"))[0]["text"] == "user: the boat leaves at 13"


async def test_one_passage_is_read_by_its_id(server: Running) -> None:
    agent = await create_voice_agent(server)
    stranger = await create_voice_agent(server, name="stranger")
    base = f"/v1/agents/{agent['id']}/archival"
    _, made = await server.request("POST", base, json={"text": "user: my locker is number 12"})
    status, got = await server.request("GET", f"{base}/{made['id']}")
    assert status == 200 and got == {k: v for k, v in made.items() if k != "supersedes"}
    for path in (f"/v1/agents/{stranger['id']}/archival/{made['id']}", f"{base}/passage-nope"):
        status, error = await server.request("GET", path)
        assert (status, error["error"]["code"]) == (404, "not_found"), path
    status, found = await server.request("GET", f"{base}/search", params={"query": "locker"})
    assert status == 200 and found["data"][0]["id"] == made["id"]  # the search route is not read as an id


async def test_a_read_token_reads_a_passage_and_cannot_edit_it(tmp_path: Path, fake_openai: FakeOpenAIServer
                                                               ) -> None:
    running, runner = await start_server(tmp_path, fake_openai, api_key="sekrit")
    try:
        agent = await running.create_agent()
        _, made = await running.request("POST", f"/v1/agents/{agent['id']}/archival", json={"text": "user: hi"})
        url = f"{running.url}/v1/agents/{agent['id']}/archival/{made['id']}"
        _, token = await running.request("POST", "/v1/tokens", json={"scopes": ["read"], "agent": agent["id"]})
        reader = {"Authorization": f"Bearer {token['token']}"}
        async with aiohttp.ClientSession() as s:
            async with s.patch(url, json={"text": "user: hello"}) as r:
                assert r.status == 401
            async with s.get(url, headers=reader) as r:
                assert r.status == 200 and (await r.json())["text"] == "user: hi"
            async with s.patch(url, json={"text": "user: hello"}, headers=reader) as r:
                assert r.status == 403  # a read token may read, not write
            async with s.patch(url, json={"text": "user: hello"}, headers=running.headers()) as r:
                assert r.status == 200
    finally:
        await runner.cleanup()


async def test_a_successor_moved_before_what_it_replaces_still_replaces_it(server: Running) -> None:
    """The link says what replaces what, not the clock: a successor whose start_at an edit moves before the passage it
    supersedes still ranks first and lists it as ``previously``, and the older passage never lists its successor
    (QA, session 18: each listed the other, a cycle a client following ``previously`` would loop on)."""
    agent = await create_voice_agent(server)
    base = f"/v1/agents/{agent['id']}/archival"
    now = time.time()
    status, old = await server.request("POST", base, json={
        "text": "user: my dentist is Dr Okafor on Harcourt Street", "start_at": now - 2 * 86_400})
    assert status == 201, old
    status, new = await server.request("POST", base, json={
        "text": "user: I switched dentists, it's Dr Lindqvist now", "start_at": now - 86_400,
        "supersedes": [old["id"]]})
    assert status == 201, new

    async def previously() -> dict[str, list[str]]:
        found = await search(server, base, "who is my dentist?")
        assert found and found[0]["id"] == new["id"], found
        return {p["id"]: list(p.get("previously") or []) for p in found}

    assert (await previously())[new["id"]] == [old["id"]]
    status, moved, _ = await patch(server, f"{base}/{new['id']}", {"start_at": now - 3 * 86_400})
    assert status == 200 and moved["start_at"] == now - 3 * 86_400, moved
    after = await previously()
    assert after[new["id"]] == [old["id"]]
    assert new["id"] not in after.get(old["id"], [])
