"""An agent may claim its name (a person's agent, ``<template>:<identity>``): at most one agent holds a claimed name,
whichever process inserts it, on SQLite and PostgreSQL alike (``AgentStore.create_agent(claim_name=True)``). Other
agents' names stay free to repeat; deleting or renaming the holder frees the name."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voice_letta import ids
from voice_letta.agent.models import AgentState
from voice_letta.agent.ports import NewBlock
from voice_letta.errors import ConflictError


async def _claim(store: Any, name: str) -> AgentState:
    agent = AgentState(id=ids.agent_id(), name=name)
    created: AgentState = await store.create_agent(agent, [NewBlock("human", "")], claim_name=True)
    return created


async def test_a_claimed_name_is_held_by_one_agent_across_connections(store: Any, other: Any) -> None:
    first = await _claim(store, "frontdesk:+15550001")
    with pytest.raises(ConflictError):
        await _claim(other, "frontdesk:+15550001")
    named = [a.id for a in await other.list_agents() if a.name == "frontdesk:+15550001"]
    assert named == [first.id]  # the loser's insert left nothing behind (no agent, no block)
    assert len(await other.list_blocks(first.id)) == 1


async def test_two_claims_at_once_from_two_connections_leave_one_agent(store: Any, other: Any) -> None:
    got = await asyncio.gather(*(_claim(s, "frontdesk:+15550002") for s in (store, other) * 4),
                               return_exceptions=True)
    winners = [g for g in got if isinstance(g, AgentState)]
    assert len(winners) == 1 and all(isinstance(g, ConflictError) for g in got if g not in winners)
    assert [a.id for a in await store.list_agents() if a.name == "frontdesk:+15550002"] == [winners[0].id]


async def test_unclaimed_names_repeat_and_do_not_block_a_claim(store: Any) -> None:
    plain = [await store.create_agent(AgentState(id=ids.agent_id(), name="support"), []) for _ in range(2)]
    claimed = await _claim(store, "support")
    assert {a.id for a in await store.list_agents() if a.name == "support"} == {*(p.id for p in plain), claimed.id}


async def test_deleting_or_renaming_the_holder_frees_the_name(store: Any, other: Any) -> None:
    first = await _claim(store, "frontdesk:+15550003")
    await store.delete_agent(first.id)
    second = await _claim(other, "frontdesk:+15550003")
    assert second.id != first.id  # ids are never reused: no cache can serve the deleted agent under it
    renamed = await other.update_agent(second.model_copy(update={"name": "frontdesk:archived"}))
    assert renamed.name == "frontdesk:archived"
    third = await _claim(store, "frontdesk:+15550003")
    await other.update_agent(third.model_copy(update={"turn_budget_s": 9.0}))
    with pytest.raises(ConflictError):  # an update that keeps the name keeps the claim
        await _claim(other, "frontdesk:+15550003")
