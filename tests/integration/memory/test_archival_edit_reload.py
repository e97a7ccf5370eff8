"""An edited or deleted passage through the real routes (``PATCH``/``DELETE /v1/agents/{id}/archival/{passage_id}``):
the agent's search index, when it was loaded, is loaded again in the background right away (at 100k passages the
next search used to load them all: ~4-5 s), and what a search then finds is what a load on demand finds. An agent
nobody searched is not loaded by an edit."""

from __future__ import annotations

from typing import Any

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from voice_letta.server.http_memory import MEMORY_SEARCH


async def _search(server: Running, base: str, query: str) -> list[tuple[str, float, float]]:
    status, found = await server.request("GET", f"{base}/search", params={"query": query})
    assert status == 200, found
    return [(p["id"], p["score"], p["confidence"]) for p in found["data"]]


async def _post(server: Running, base: str, text: str) -> dict[str, Any]:
    status, made = await server.request("POST", base, json={"text": text})
    assert status == 201, made
    return dict(made)


async def test_an_edit_or_a_delete_loads_the_index_again_in_the_background(server: Running) -> None:
    search = server.app[MEMORY_SEARCH]
    agent = await create_voice_agent(server)
    base = f"/v1/agents/{agent['id']}/archival"
    wrong = await _post(server, base, "user: my sister Ines lives in Porto")
    bees = await _post(server, base, "user: I keep bees on the allotment")
    await _post(server, base, "user: the allotment gate code is 4417")
    assert (await _search(server, base, "Porto"))[0][0] == wrong["id"]  # loads the index
    before = search.indexes.get(agent["id"])
    assert before is not None and before.size == 3

    fixed = {"text": "user: my sister Ines lives in Lisbon"}
    status, _ = await server.request("PATCH", f"{base}/{wrong['id']}", json=fixed)
    assert status == 200
    await search.indexes.settle()  # the background load, started by the edit: no search has run since
    again = search.indexes.get(agent["id"])
    assert again is not None and again is not before and again.size == 3
    found = await _search(server, base, "where does my sister live")
    assert found[0][0] == wrong["id"]
    # the same as an index loaded on demand, by the search itself
    search.forget(agent["id"])
    assert search.indexes.get(agent["id"]) is None
    assert await _search(server, base, "where does my sister live") == found

    status, _ = await server.request("DELETE", f"{base}/{bees['id']}")
    assert status == 200
    await search.indexes.settle()
    after = search.indexes.get(agent["id"])
    assert after is not None and after.size == 2 and bees["id"] not in after.row_of


async def test_an_edit_does_not_load_the_index_of_an_agent_nobody_searched(server: Running) -> None:
    search = server.app[MEMORY_SEARCH]
    agent = await create_voice_agent(server)
    base = f"/v1/agents/{agent['id']}/archival"
    made = await _post(server, base, "user: the boiler service is booked for march")
    moved = {"text": "user: the boiler service moved to april"}
    status, _ = await server.request("PATCH", f"{base}/{made['id']}", json=moved)
    assert status == 200
    await search.indexes.settle()
    assert search.indexes.get(agent["id"]) is None
    assert [p[0] for p in await _search(server, base, "when is the boiler service")] == [made["id"]]
