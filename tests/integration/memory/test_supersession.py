"""Supersession through the real server: the sleeptime agent (scripted fake LLM over HTTP) is shown the archived
memories a hand-off may update and names the ones a chunk replaces; a REST insert may name them too. Search then
puts the current fact first and says what it replaces, even for a question worded like the old fact."""

from __future__ import annotations

import json
import time

from tests.fakes.openai_server import Text, ToolCall
from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import (
    create_voice_agent,
    finish_call,
    manager,
    rethink_call,
    say,
    seed_history,
    sleeptime_requests,
)
from tests.integration.memory.test_recall import batch, search
from voice_letta.server.http_memory import MEMORY_SEARCH

DAY = 86400.0


def store_with(*chunks: tuple[int, int, str, list[str]]) -> ToolCall:
    return ToolCall("store_memories", json.dumps({"chunks": [
        {"start_index": s, "end_index": e, "context": c, "supersedes": sup} for s, e, c, sup in chunks]}))


async def test_the_sleeptime_agent_marks_the_fact_an_update_replaces(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    boston, knit = await batch(server, agent["id"], [
        {"text": "user: I live in Boston, near the harbor.", "synopsis": "The user lives in Boston.",
         "start_at": now - 90 * DAY},
        {"text": "user: I'm learning to knit scarves.", "synopsis": "The user is learning to knit.",
         "start_at": now - 60 * DAY}])
    await seed_history(server, agent["id"], [
        "user: Big news, I moved to Seattle last week and I love the rain.",
        "assistant: Congratulations on the move!",
        "user: What should I cook tonight?", "assistant: How about a soup?",
        "user: What's the weather like?", "assistant: Rainy, of course."], t0=now - 2 * DAY)
    server.fake.script(
        [Text("Sure.")],  # the voice turn that pushes the window over its limit
        [ToolCall("store_memories", json.dumps({"chunks": [  # first: a handle that was never shown
            {"start_index": 0, "end_index": 1, "context": "x", "supersedes": ["m7"]}]}))],
        [store_with((0, 1, "The user moved to Seattle (from Boston).", ["m1"]))],
        [rethink_call("Lives in Seattle.")],
        [finish_call()],
    )
    await say(server, agent["id"], "Any ideas for the weekend?")
    jobs = await manager(server).wait_idle(agent["id"])
    assert [j.status for j in jobs] == ["done"]

    request = sleeptime_requests(server.fake)[0]["messages"][1]["content"]
    shown = request.split("Archived memories that may be related")[1]
    assert "[m1] The user lives in Boston." in shown  # the memory the move updates is shown with a handle
    retry = sleeptime_requests(server.fake)[1]["messages"]
    assert "supersedes names m7, which is not a listed memory" in retry[-1]["content"]

    status, listed = await server.request("GET", f"/v1/agents/{agent['id']}/archival")
    assert status == 200
    by_id = {p["id"]: p for p in listed["data"]}
    [seattle] = [p for p in listed["data"] if p["id"] not in (boston, knit)]
    assert by_id[boston]["superseded_by"] == seattle["id"] and by_id[boston]["superseded_at"] == seattle["created_at"]
    assert by_id[knit]["superseded_by"] is None and seattle["superseded_by"] is None

    # Asked in the old fact's own words, search answers with the current one first and names what it replaces.
    found = await search(server, agent["id"], "Do I still live in Boston near the harbor?", limit=3)
    assert [p["id"] for p in found[:2]] == [seattle["id"], boston]
    assert found[0]["previously"] == [boston]
    assert found[0]["confidence"] >= found[1]["confidence"]
    text = await server.app[MEMORY_SEARCH].search(agent["id"], "Where do I live?", {})
    results = [line for line in text.splitlines() if line.startswith("- ")]
    assert "Seattle" in results[0] and "This replaces what was said" in results[0] and "Boston" in results[0]
    assert sum("Boston" in line for line in results) == 1  # the old fact is not listed on its own


async def test_a_rest_insert_supersedes_named_passages_and_a_new_process_sees_it(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    [dose] = await batch(server, agent["id"], [
        {"text": "user: I take 20 mg of lisinopril every morning.", "start_at": now - 40 * DAY}])
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/archival", json={
        "text": "user: My doctor changed my blood pressure pill.", "start_at": now - DAY, "supersedes": [dose]})
    assert status == 201 and body["supersedes"] == [dose], body
    new = body["id"]
    found = await search(server, agent["id"], "How many mg of lisinopril do I take?", limit=2)
    assert [p["id"] for p in found] == [new, dose] and found[0]["previously"] == [dose]
    # A reload (another process, or this one after a restart) reads the mark from the store.
    server.app[MEMORY_SEARCH].forget(agent["id"])
    assert [p["id"] for p in await search(server, agent["id"], "lisinopril 20 mg", limit=2)] == [new, dose]
    # Unknown ids are refused before anything is stored; a passage never supersedes twice.
    status, err = await server.request("POST", f"/v1/agents/{agent['id']}/archival", json={
        "text": "user: something else", "supersedes": ["passage-nope"]})
    assert status == 400 and "passage-nope" in err["error"]["message"]
    status, again = await server.request("POST", f"/v1/agents/{agent['id']}/archival/batch", json={"passages": [
        {"text": "user: The pill is now 10 mg of amlodipine.", "supersedes": [dose, new]}]})
    assert status == 201 and again["data"][0]["supersedes"] == [new]  # dose already has its successor
    found = await search(server, agent["id"], "How many mg of lisinopril do I take?", limit=3)
    assert found[0]["id"] == again["data"][0]["id"]  # the end of the chain comes first
    status, listed = await server.request("GET", f"/v1/agents/{agent['id']}/archival")
    assert status == 200 and listed["total"] == 3


async def test_deleting_a_successor_hands_its_place_on_or_makes_the_old_fact_current(server: Running) -> None:
    """Found from outside: deleting the passage that replaced a fact left the old one's ``superseded_by`` naming a
    passage that was gone (a 404). Now what the deleted passage superseded is superseded by its own successor, or
    is current again."""
    agent = await create_voice_agent(server)
    base = f"/v1/agents/{agent['id']}/archival"
    now = time.time()
    [lisbon] = await batch(server, agent["id"], [{"text": "user: I live in Lisbon.", "start_at": now - 90 * DAY}])
    ids_ = [lisbon]
    for text, ago in (("user: I moved to Berlin.", 30 * DAY), ("user: I moved to Paris.", DAY)):
        status, body = await server.request("POST", base, json={"text": text, "start_at": now - ago,
                                                                 "supersedes": [ids_[-1]]})
        assert status == 201 and body["supersedes"] == [ids_[-1]], body
        ids_.append(body["id"])
    _, berlin, paris = ids_

    async def successors() -> dict[str, str | None]:
        status, listed = await server.request("GET", base)
        assert status == 200
        return {p["id"]: p["superseded_by"] for p in listed["data"]}

    assert (await server.request("DELETE", f"{base}/{berlin}"))[0] == 200  # the middle of the chain
    assert await successors() == {lisbon: paris, paris: None}
    found = await search(server, agent["id"], "Where do I live?", limit=2)
    assert [p["id"] for p in found] == [paris, lisbon] and found[0]["previously"] == [lisbon]
    assert (await server.request("DELETE", f"{base}/{paris}"))[0] == 200  # the end: Lisbon is current again
    status, listed = await server.request("GET", base)
    assert [(p["id"], p["superseded_by"], p["superseded_at"]) for p in listed["data"]] == [(lisbon, None, None)]
    server.app[MEMORY_SEARCH].forget(agent["id"])  # what another process (or a restart) reads from the store
    found = await search(server, agent["id"], "Where do I live?", limit=2)
    assert [(p["id"], p["superseded_by"], p["previously"]) for p in found] == [(lisbon, None, [])]


async def test_times_are_numbers_and_refusals_name_the_field(server: Running) -> None:
    """Found from outside: ``"start_at": true`` (and ``said_at: true``) was taken as 1.0, a passage said in 1970;
    an unknown ``supersedes`` id, an ``end_at`` before ``start_at`` and a future import ``said_at`` gave param
    null."""
    agent = await create_voice_agent(server)
    base = f"/v1/agents/{agent['id']}"
    cases = [
        ("/archival", {"text": "x", "start_at": True}, "start_at"),
        ("/archival", {"text": "x", "end_at": "1700000000"}, "end_at"),
        ("/archival", {"text": "x", "supersedes": ["passage-nope"]}, "supersedes"),
        ("/archival", {"text": "x", "start_at": 10, "end_at": 5}, "end_at"),
        ("/archival/batch", {"passages": [{"text": "a"}, {"text": "b", "supersedes": ["passage-nope"]}]},
         "passages.1.supersedes"),
        ("/archival/batch", {"passages": [{"text": "a"}, {"text": "b", "start_at": 10, "end_at": 5}]},
         "passages.1.end_at"),
        ("/messages/import", {"messages": [{"role": "user", "content": "x", "said_at": True}]},
         "messages.0.said_at"),
        ("/messages/import", {"messages": [{"role": "user", "content": "x", "said_at": 1.0},
                                           {"role": "user", "content": "y", "said_at": time.time() + 3600}]},
         "messages.1.said_at"),
    ]
    for path, body, param in cases:
        status, err = await server.request("POST", base + path, json=body)
        assert status == 400 and err["error"]["param"] == param, (body, err)
    status, listed = await server.request("GET", base + "/archival")
    assert listed["total"] == 0  # nothing refused was stored
    status, ok = await server.request("POST", base + "/archival", json={"text": "x", "start_at": 1700000000})
    assert status == 201 and ok["start_at"] == 1700000000.0  # an integer is a number
