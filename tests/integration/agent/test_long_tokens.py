"""Long runs without a space (a pasted log line, digits, a Chinese chat chunk, which has no spaces at all) in what
a client sends to memory. The archival search refuses a query longer than any question (2,000 characters, a 400
naming ``query``): ranking cost grows with it on the event loop every session shares (real server, real HTTP)."""

from __future__ import annotations

from tests.integration.agent.conftest import Running


async def test_a_search_query_longer_than_a_question_is_refused_naming_query(server: Running) -> None:
    agent = await server.create_agent(name="long-query")
    status, _ = await server.request("POST", f"/v1/agents/{agent['id']}/archival",
                                     json={"text": "my locker code is 4417"})
    assert status == 201
    path = f"/v1/agents/{agent['id']}/archival/search"
    status, body = await server.request("GET", path, params={"query": "1" * 2001})
    assert status == 400 and body["error"]["param"] == "query", body
    assert "2,000" in body["error"]["message"], body
    status, body = await server.request("GET", path, params={"query": "what is my locker code " + "?" * 1977})
    assert status == 200 and body["data"], body  # 2,000 characters: a question, however padded, is searched
