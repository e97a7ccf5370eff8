"""A passage edited through one server process (``PATCH …/archival/{passage_id}``) is what the other process's
loaded index finds next, by its new words and not its old ones, and the other process's live sessions hear
``memory.updated`` (SQLite file and PostgreSQL; server/changes.py)."""

from __future__ import annotations

from tests.fakes.native_client import NativeClient
from tests.integration.workers.test_change_feed import create_agent, eventually, nodes  # noqa: F401 - fixture


async def test_an_edit_in_one_process_reaches_the_others_index_and_sessions(nodes, fake_openai) -> None:  # noqa: F811
    a, b = nodes
    agent = await create_agent(a, fake_openai)
    base = f"/v1/agents/{agent}/archival"
    status, wrong = await a.call("POST", base, json={"text": "user: my sister Ines lives in Porto"})
    assert status == 201
    status, found = await b.call("GET", f"{base}/search", params={"query": "Porto"})
    assert [h["id"] for h in found["data"]] == [wrong["id"]]  # b's index is loaded, with the old words
    async with await NativeClient.open(b.url, agent=agent) as client:
        await client.send(type="ping")
        await client.wait_for("pong")
        fixed = {"text": "user: my sister Ines lives in Lisbon"}
        status, _ = await a.call("PATCH", f"{base}/{wrong['id']}", json=fixed)
        assert status == 200
        event = await client.wait_for("memory.updated")
        assert (event["reason"], event["passages_added"], event["passages_removed"]) == ("rest", 0, 0)

    async def b_reads_the_new_words() -> bool:
        _, hits = await b.call("GET", f"{base}/search", params={"query": "Lisbon"})
        _, old = await b.call("GET", f"{base}/search", params={"query": "Porto"})
        return bool(hits["data"]) and hits["data"][0]["text"].endswith("Lisbon") and not any(
            "Porto" in h["text"] for h in old["data"])

    await eventually(b_reads_the_new_words)
