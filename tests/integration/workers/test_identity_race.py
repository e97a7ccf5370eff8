"""A person's agent (``POST /v1/agents/{template}/identities/{id}``, a phone caller's first call) is made once even
when two processes on one database get the first calls at the same moment: its id is derived from the template and
the identity, so the database keeps one. Before, each process made its own and kept it when the other's was not yet
committed when it looked (found from outside on PostgreSQL with 2 workers, qa session 8: 1 round in 5 left two
agents of one caller, each with part of the calls)."""

from __future__ import annotations

import asyncio
import collections

import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.workers.test_change_feed import Node, create_agent, nodes  # noqa: F401  (the fixture)
from voice_letta.server import identities


async def test_first_calls_at_once_in_two_processes_make_one_agent(nodes: tuple[Node, Node],  # noqa: F811
                                                                   fake_openai: FakeOpenAIServer) -> None:
    a, b = nodes
    template = await create_agent(a, fake_openai)
    for n in range(3):
        caller = f"+1555000{n:04d}"
        got = await asyncio.gather(*(node.call("POST", f"/v1/agents/{template}/identities/{caller}", json={})
                                     for node in (a, b) * 6))
        assert {status for status, _ in got} <= {200, 201}
        assert collections.Counter(status for status, _ in got)[201] == 1
        assert len({body["id"] for _, body in got}) == 1
        _, listed = await a.call("GET", "/v1/agents", params={"limit": "1000"})
        assert [x["id"] for x in listed["data"] if x["name"].endswith(f":{caller}")] == [got[0][1]["id"]]


async def test_a_process_that_looked_before_the_other_committed_gets_the_other_s_agent(
        nodes: tuple[Node, Node],  # noqa: F811
        fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = nodes
    template = await create_agent(a, fake_openai)
    status, first = await a.call("POST", f"/v1/agents/{template}/identities/user-7", json={})
    assert status == 201

    async def saw_nothing(*_: object) -> None:  # as if B's look came before A's commit
        return None

    monkeypatch.setattr(identities, "_existing", saw_nothing)
    status, second = await b.call("POST", f"/v1/agents/{template}/identities/user-7", json={})
    assert (status, second["id"]) == (200, first["id"])
    _, listed = await b.call("GET", "/v1/agents", params={"limit": "1000"})
    assert [x["id"] for x in listed["data"] if x["name"].endswith(":user-7")] == [first["id"]]
