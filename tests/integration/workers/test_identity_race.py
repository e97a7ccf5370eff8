"""A person's agent (``POST /v1/agents/{template}/identities/{id}``, a phone caller's first call) is made once even
when two processes on one database get the first calls at the same moment: the agent claims its name in the
database, so the second process's insert fails and it returns the first's agent. Before, each process made its own
and kept it when the other's was not yet committed when it looked (found from outside on PostgreSQL with 2 workers,
qa session 8: 2 rounds in 20 left two agents of one caller, each with part of the calls). Ids stay random: an agent
deleted and made again gets a new id, so the other process's cache cannot serve the deleted one's memory (qa found
that with derived ids)."""

from __future__ import annotations

import asyncio
import collections

import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.workers.test_change_feed import Node, create_agent, nodes  # noqa: F401  (the fixture)
from voice_letta.agent.models import AgentState
from voice_letta.agent.service import AgentService
from voice_letta.server import identities


async def _agents_named(node: Node, name_end: str) -> list[str]:
    _, listed = await node.call("GET", "/v1/agents", params={"limit": "1000"})
    return [x["id"] for x in listed["data"] if x["name"].endswith(name_end)]


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
        assert await _agents_named(a, f":{caller}") == [got[0][1]["id"]]


async def test_a_process_that_looked_before_the_other_committed_gets_the_other_s_agent(
        nodes: tuple[Node, Node],  # noqa: F811
        fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = nodes
    template = await create_agent(a, fake_openai)
    status, first = await a.call("POST", f"/v1/agents/{template}/identities/user-7", json={})
    assert status == 201
    looked_up = identities._named
    looks: list[str] = []

    async def first_look_saw_nothing(agents: AgentService, name: str) -> AgentState | None:
        looks.append(name)  # B's first look came before A's commit; the look after its failed insert sees it
        return None if len(looks) == 1 else await looked_up(agents, name)

    monkeypatch.setattr(identities, "_named", first_look_saw_nothing)
    status, second = await b.call("POST", f"/v1/agents/{template}/identities/user-7", json={})
    assert (status, second["id"], len(looks)) == (200, first["id"], 2)
    assert await _agents_named(b, ":user-7") == [first["id"]]


async def test_an_agent_deleted_and_asked_for_again_is_new_in_both_processes(
        nodes: tuple[Node, Node], fake_openai: FakeOpenAIServer) -> None:  # noqa: F811
    a, b = nodes
    template = await create_agent(a, fake_openai)
    for round_ in range(3):
        status, agent = await a.call("POST", f"/v1/agents/{template}/identities/user-8", json={})
        assert status == 201
        status, _ = await b.call("GET", f"/v1/agents/{agent['id']}")  # B caches it
        assert status == 200
        status, _ = await b.call("PATCH", f"/v1/agents/{agent['id']}/blocks/human",
                                 json={"value": f"secret of round {round_}"})
        assert status == 200
        status, _ = await a.call("DELETE", f"/v1/agents/{agent['id']}")
        assert status == 200
        status, again = await b.call("POST", f"/v1/agents/{template}/identities/user-8", json={})
        assert status == 201 and again["id"] != agent["id"]
        assert "secret" not in next(blk["value"] for blk in again["blocks"] if blk["label"] == "human")
        status, _ = await a.call("DELETE", f"/v1/agents/{again['id']}")
        assert status == 200
