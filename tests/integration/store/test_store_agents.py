"""Agents, shared memory blocks (compare-and-set, limits, read-only) and tools in the SQLite store."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.store.helpers import make_agent, msg, raw
from voice_letta import config as C
from voice_letta import ids
from voice_letta.agent.models import (
    AgentState,
    BufferConfig,
    EmbeddingConfig,
    LLMConfig,
    Passage,
    ProviderName,
    Tool,
    ToolOptions,
    ToolType,
    TurnRecord,
)
from voice_letta.agent.ports import NewBlock
from voice_letta.errors import ConfigError, ConflictError, NotFoundError
from voice_letta.store import SqliteStore


def _tool(name: str = "get_weather") -> Tool:
    return Tool(
        id=ids.tool_id(), name=name, type=ToolType.CUSTOM, description="Weather for a city.",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        source_type="python", source_code="def get_weather(city): return 'sunny'",
        options=ToolOptions(filler=False, timeout_s=5, env={"UNITS": "metric"}),
    )


async def test_agent_round_trip_keeps_every_setting_block_order_and_tools(store: SqliteStore) -> None:
    tool_a, tool_b = await store.create_tool(_tool("a_tool")), await store.create_tool(_tool("b_tool"))
    agent = AgentState(
        id=ids.agent_id(), name="Ada", system="Be brief.",
        llm=LLMConfig(provider=ProviderName.OPENAI, model="gpt-4o-mini", api_key_env="OPENAI_API_KEY",
                      temperature=0.2, fallback=LLMConfig()),
        sleeptime_llm=LLMConfig(provider=ProviderName.ANTHROPIC, model="claude-x", max_tokens=None),
        embedding=EmbeddingConfig(provider="openai", model="text-embedding-3-small", dim=1536),
        buffer=BufferConfig(max_messages=20, min_messages=10, max_context_tokens=3000),
        client_system_prompt="append", max_tool_rounds=5, turn_budget_s=12.5, memory_target_label="user",
        handoff_on_session_end=False, timezone="Pacific/Tongatapu", created_at=1_700_000_000.25,
        tools=[tool_b, tool_a],
    )
    created = await store.create_agent(
        agent, [NewBlock("persona", "I am Ada.", limit=100, description="who I am"),
                NewBlock("human", "", read_only=True), NewBlock("notes")],
    )
    loaded = await store.get_agent(agent.id)
    assert loaded == created
    assert loaded.model_dump(exclude={"blocks", "tools"}) == agent.model_dump(exclude={"blocks", "tools"})
    assert [b.label for b in loaded.blocks] == ["persona", "human", "notes"]
    persona = loaded.block("persona")
    assert persona is not None
    assert (persona.value, persona.limit, persona.description, persona.version) == ("I am Ada.", 100, "who I am", 1)
    assert loaded.blocks[1].read_only is True
    assert loaded.blocks[2].limit == C.DEFAULT_BLOCK_CHAR_LIMIT
    assert all(b.id.startswith("block-") for b in loaded.blocks)
    assert [t.name for t in loaded.tools] == ["b_tool", "a_tool"]
    assert loaded.tools[0] == tool_b
    assert [a.id for a in await store.list_agents()] == [agent.id]


async def test_update_agent_changes_settings_but_not_links(store: SqliteStore) -> None:
    agent = await make_agent(store)
    changed = agent.model_copy(update={"name": "Grace", "llm": LLMConfig(model="other"), "blocks": [],
                                       "timezone": "America/Los_Angeles"})
    updated = await store.update_agent(changed)
    assert updated.name == "Grace" and updated.timezone == "America/Los_Angeles"
    assert updated.llm.model == "other"
    assert [b.label for b in updated.blocks] == ["persona", "human"]
    with pytest.raises(NotFoundError):
        await store.update_agent(changed.model_copy(update={"id": "agent-missing"}))


async def test_create_agent_rejects_duplicate_id_unknown_block_unknown_tool_and_duplicate_label(
    store: SqliteStore,
) -> None:
    agent = await make_agent(store)
    with pytest.raises(ConflictError):
        await store.create_agent(agent, [])
    with pytest.raises(NotFoundError):
        await store.create_agent(AgentState(id=ids.agent_id(), name="b"), ["block-missing"])
    with pytest.raises(NotFoundError):
        await store.create_agent(AgentState(id=ids.agent_id(), name="c", tools=[_tool()]), [])
    with pytest.raises(ConfigError):
        await store.create_agent(AgentState(id=ids.agent_id(), name="d"), [NewBlock("x"), NewBlock("x")])
    with pytest.raises(ConfigError):
        await store.create_agent(AgentState(id=ids.agent_id(), name="e"), [NewBlock("x", "abcdef", limit=3)])
    # the failed creations left nothing behind
    assert [a.id for a in await store.list_agents()] == [agent.id]


async def test_two_agents_sharing_a_block_see_one_update(store: SqliteStore) -> None:
    ada = await make_agent(store, "ada")
    human = ada.block("human")
    assert human is not None
    bob = await make_agent(store, "bob", NewBlock("persona", "I am Bob."), human.id)
    assert [b.label for b in bob.blocks] == ["persona", "human"]
    await store.update_block(human.id, value="The user is called Sam.", expected_version=human.version)
    for agent_id in (ada.id, bob.id):
        block = (await store.get_agent(agent_id)).block("human")
        assert block is not None
        assert (block.value, block.version) == ("The user is called Sam.", 2)


async def test_delete_agent_keeps_shared_blocks_and_removes_private_ones_and_its_rows(
    store: SqliteStore,
) -> None:
    ada = await make_agent(store, "ada")
    human, persona = ada.block("human"), ada.block("persona")
    assert human is not None and persona is not None
    bob = await make_agent(store, "bob", NewBlock("persona", "I am Bob."), human.id)
    tool = await store.create_tool(_tool())
    await store.attach_tool(ada.id, tool.id)
    await store.append_messages([msg(ada.id, "user", "remember pancakes"), msg(bob.id, "user", "pancakes")])
    for agent in (ada, bob):  # out of context: in the keyword indexes
        await store.evict_messages(agent.id, through_seq=1)
    await store.insert_passages([Passage(id=ids.passage_id(), agent_id=ada.id, text="pancakes talk")])
    await store.save_turn(TurnRecord(id=ids.turn_id(), agent_id=ada.id, fingerprint="fp"))

    await store.delete_agent(ada.id)

    with pytest.raises(NotFoundError):
        await store.get_agent(ada.id)
    with pytest.raises(NotFoundError):
        await store.get_block(persona.id)
    assert (await store.get_block(human.id)).id == human.id
    assert [b.id for b in (await store.get_agent(bob.id)).blocks][1] == human.id
    assert await store.list_messages(ada.id) == []
    assert await store.list_passages(ada.id) == []
    assert await store.find_turn(ada.id, "fp") is None
    assert (await store.get_tool(tool.id)).id == tool.id
    assert len(await store.list_messages(bob.id)) == 1
    # the keyword indexes forgot the deleted rows too
    if isinstance(store, SqliteStore):
        db = store._db
        assert next(iter(await db.execute_fetchall("SELECT count(*) FROM messages_fts")))[0] == 1
        assert next(iter(await db.execute_fetchall("SELECT count(*) FROM passages_fts")))[0] == 0
        await db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
        await db.execute("INSERT INTO passages_fts(passages_fts) VALUES ('integrity-check')")
    else:  # PostgreSQL: the deleted agent's keyword statistics are gone, the other's kept
        assert await raw(store, f"SELECT count(*) FROM fts_docs WHERE agent_id = '{ada.id}'") == [(0,)]
        assert await raw(store, f"SELECT count(*) FROM fts_terms WHERE agent_id = '{ada.id}'") == [(0,)]
        assert await raw(store, f"SELECT docs FROM fts_docs WHERE agent_id = '{bob.id}' AND kind = 'm'") == [(1,)]


async def test_concurrent_compare_and_set_has_exactly_one_winner(store: SqliteStore) -> None:
    agent = await make_agent(store)
    block = agent.block("human")
    assert block is not None
    results = await asyncio.gather(
        *(store.update_block(block.id, value=f"writer {i}", expected_version=block.version) for i in range(2)),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1 and len(losers) == 1
    assert isinstance(losers[0], ConflictError)
    stored = await store.get_block(block.id)
    assert stored.version == block.version + 1
    assert stored.value == winners[0].value


async def test_update_block_without_expected_version_always_bumps_version(store: SqliteStore) -> None:
    agent = await make_agent(store)
    block = agent.block("human")
    assert block is not None
    await asyncio.gather(*(store.update_block(block.id, value=str(i)) for i in range(10)))
    assert (await store.get_block(block.id)).version == block.version + 10
    with pytest.raises(ConflictError):
        await store.update_block(block.id, value="stale", expected_version=block.version)
    with pytest.raises(NotFoundError):
        await store.update_block("block-missing", value="x")


async def test_update_block_enforces_char_limit_and_read_only(store: SqliteStore) -> None:
    agent = await make_agent(store, "ada", NewBlock("human", "short", limit=10), NewBlock("rules", "fixed",
                                                                                          read_only=True))
    human, rules = agent.blocks
    with pytest.raises(ConfigError, match="limit is 10"):
        await store.update_block(human.id, value="x" * 11)
    with pytest.raises(ConfigError, match="limit is 4"):
        await store.update_block(human.id, value="short", limit=4)
    ok = await store.update_block(human.id, value="x" * 20, limit=20, description="about the user")
    assert (ok.value, ok.limit, ok.description, ok.version) == ("x" * 20, 20, "about the user", 2)
    assert await store.get_block(human.id) == ok

    with pytest.raises(ConfigError, match="read-only"):
        await store.update_block(rules.id, value="changed")
    assert (await store.get_block(rules.id)).version == 1
    kept = await store.update_block(rules.id, value="edited", read_only=True)  # the operator's edit, still locked
    assert (kept.value, kept.read_only, kept.version) == ("edited", True, 2)
    unlocked = await store.update_block(rules.id, value="changed", read_only=False)
    assert unlocked.read_only is False and unlocked.version == 3

    with pytest.raises(ConfigError):
        await store.update_block(human.id, value="x", colour="red")
    with pytest.raises(ConfigError):
        await store.update_block(human.id, value="x", limit="lots")
    with pytest.raises(ConfigError):
        await store.update_block(human.id, value="x", label="rules")  # clashes with a sibling
    relabelled = await store.update_block(human.id, value="x", label="user")
    assert relabelled.label == "user"


async def test_attach_and_detach_blocks(store: SqliteStore) -> None:
    ada = await make_agent(store, "ada")
    bob = await make_agent(store, "bob", NewBlock("persona", "Bob"))
    human = ada.block("human")
    assert human is not None
    await store.attach_block(bob.id, human.id)
    await store.attach_block(bob.id, human.id)  # idempotent
    assert [b.label for b in await store.list_blocks(bob.id)] == ["persona", "human"]
    with pytest.raises(ConfigError):
        await store.attach_block(bob.id, ada.blocks[0].id)  # a second "persona"
    with pytest.raises(NotFoundError):
        await store.attach_block(bob.id, "block-missing")
    with pytest.raises(NotFoundError):
        await store.attach_block("agent-missing", human.id)
    await store.detach_block(bob.id, human.id)
    await store.detach_block(bob.id, human.id)  # idempotent
    assert [b.label for b in await store.list_blocks(bob.id)] == ["persona"]
    assert (await store.get_block(human.id)).id == human.id
    assert await store.list_blocks("agent-missing") == []


async def test_tools_create_conflict_attach_detach_delete(store: SqliteStore) -> None:
    agent = await make_agent(store)
    tool = await store.create_tool(_tool("lookup"))
    assert await store.get_tool(tool.id) == tool
    with pytest.raises(ConflictError):
        await store.create_tool(_tool("lookup"))
    with pytest.raises(ConflictError):
        await store.create_tool(tool.model_copy(update={"name": "other"}))
    second = await store.create_tool(_tool("another"))
    assert [t.name for t in await store.list_tools()] == ["another", "lookup"]

    await store.attach_tool(agent.id, tool.id)
    await store.attach_tool(agent.id, tool.id)
    await store.attach_tool(agent.id, second.id)
    assert [t.name for t in (await store.get_agent(agent.id)).tools] == ["lookup", "another"]
    with pytest.raises(NotFoundError):
        await store.attach_tool(agent.id, "tool-missing")
    await store.detach_tool(agent.id, tool.id)
    await store.detach_tool(agent.id, tool.id)
    assert [t.name for t in (await store.get_agent(agent.id)).tools] == ["another"]

    await store.delete_tool(second.id)
    assert (await store.get_agent(agent.id)).tools == []
    with pytest.raises(NotFoundError):
        await store.delete_tool(second.id)
