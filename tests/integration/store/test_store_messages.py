"""Messages in the SQLite store: seq assignment, listing, eviction, edits and full-text search."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.integration.store.helpers import make_agent, msg
from voice_letta import ids
from voice_letta.agent.models import ToolCall
from voice_letta.store import SqliteStore

T0 = 1_700_000_000.0


async def test_seq_is_strictly_increasing_under_50_concurrent_appenders(store: SqliteStore) -> None:
    agent = await make_agent(store)
    other = await make_agent(store, "other")

    async def appender(i: int) -> list[int]:
        batch = [msg(agent.id, "user", f"task {i} line {j}") for j in range(3)]
        if i % 5 == 0:
            batch.append(msg(other.id, "assistant", f"other {i}"))
        return [m.seq for m in await store.append_messages(batch)]

    returned = await asyncio.gather(*(appender(i) for i in range(50)))
    stored = await store.list_messages(agent.id)
    seqs = [m.seq for m in stored]
    assert seqs == list(range(1, 151))
    for batch_seqs in returned:
        mine = batch_seqs[:3]
        assert mine == list(range(mine[0], mine[0] + 3))  # one batch is contiguous
    assert [m.seq for m in await store.list_messages(other.id)] == list(range(1, 11))


async def test_append_returns_stored_messages_and_they_round_trip(store: SqliteStore) -> None:
    agent = await make_agent(store)
    call = ToolCall(id=ids.tool_call_id(), name="get_weather", arguments='{"city": "Oslo"}')
    sent = [
        msg(agent.id, "user", "weather?", at=T0, turn_id="turn-1"),
        msg(agent.id, "assistant", None, at=T0 + 1, tool_calls=[call], kind="filler"),
        msg(agent.id, "tool", "sunny", at=T0 + 2, tool_call_id=call.id, name="get_weather"),
        msg(agent.id, "assistant", "It is sunny.", at=T0 + 3, interrupted=True),
    ]
    stored = await store.append_messages(sent)
    assert [m.seq for m in stored] == [1, 2, 3, 4]
    assert [m.model_copy(update={"seq": 0}) for m in stored] == sent
    assert await store.list_messages(agent.id) == stored
    assert await store.append_messages([]) == []


async def test_list_messages_filters_after_seq_limit_and_in_context(store: SqliteStore) -> None:
    agent = await make_agent(store)
    await store.append_messages([msg(agent.id, "user", f"m{i}") for i in range(1, 11)])
    assert [m.seq for m in await store.list_messages(agent.id, limit=3)] == [8, 9, 10]
    assert [m.seq for m in await store.list_messages(agent.id, after_seq=7)] == [8, 9, 10]
    assert [m.seq for m in await store.list_messages(agent.id, after_seq=2, limit=2)] == [9, 10]
    assert await store.list_messages(agent.id, limit=0) == []

    assert await store.evict_messages(agent.id, through_seq=4) == 4
    assert await store.evict_messages(agent.id, through_seq=4) == 0
    assert await store.evict_messages(agent.id, through_seq=6) == 2
    assert [m.seq for m in await store.list_messages(agent.id, in_context=True)] == [7, 8, 9, 10]
    assert [m.seq for m in await store.list_messages(agent.id, in_context=False)] == [1, 2, 3, 4, 5, 6]
    assert [m.seq for m in await store.list_messages(agent.id, in_context=False, limit=2)] == [5, 6]
    assert await store.list_messages("agent-missing") == []


async def test_evict_only_touches_the_given_agent(store: SqliteStore) -> None:
    a, b = await make_agent(store, "a"), await make_agent(store, "b")
    await store.append_messages([msg(a.id, "user", "x"), msg(b.id, "user", "y")])
    assert await store.evict_messages(a.id, through_seq=10) == 1
    assert (await store.list_messages(b.id))[0].in_context is True


async def test_update_message_truncates_content_and_reindexes_it(store: SqliteStore) -> None:
    agent = await make_agent(store)
    [reply] = await store.append_messages([msg(agent.id, "assistant", "Quantum gravity is a big topic.")])
    await store.evict_messages(agent.id, through_seq=reply.seq)
    updated = await store.update_message(reply.id, content="Bananas are", interrupted=True)
    assert (updated.content, updated.interrupted, updated.seq) == ("Bananas are", True, reply.seq)
    assert await store.search_messages(agent.id, "quantum gravity") == []
    assert [h.message.id for h in await store.search_messages(agent.id, "banana")] == [reply.id]
    same = await store.update_message(reply.id)
    assert same == updated


async def _history(store: SqliteStore) -> tuple[str, dict[str, str]]:
    agent = await make_agent(store)
    rows = [
        msg(agent.id, "system", "pizza system prompt", at=T0),
        msg(agent.id, "user", "I love pizza with pineapple", at=T0 + 10),
        msg(agent.id, "assistant", "Pizza pizza pizza is great", at=T0 + 20),
        msg(agent.id, "tool", "pizza tool output", at=T0 + 30, tool_call_id="call_1", name="t"),
        msg(agent.id, "user", "my dog is called Rex", at=T0 + 40),
        msg(agent.id, "user", "", at=T0 + 45),
        msg(agent.id, "user", "running late, talk about pizza later", at=T0 + 50),
        msg(agent.id, "assistant", "The weather is nice today", at=T0 + 60),
    ]
    stored = await store.append_messages(rows)
    await store.evict_messages(agent.id, through_seq=7)  # the last one stays in context
    return agent.id, {m.content or f"empty-{m.seq}": m.id for m in stored}


async def test_search_ranks_by_bm25_and_skips_system_and_tool_rows(store: SqliteStore) -> None:
    agent_id, by_text = await _history(store)
    hits = await store.search_messages(agent_id, "pizza")
    contents = [h.message.content for h in hits]
    assert contents[0] == "Pizza pizza pizza is great"
    assert set(contents) == {"Pizza pizza pizza is great", "I love pizza with pineapple",
                             "running late, talk about pizza later"}
    assert all(h.message.role in ("user", "assistant") for h in hits)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    # porter stemming: "run" finds "running"
    assert [h.message.id for h in await store.search_messages(agent_id, "run")] == [
        by_text["running late, talk about pizza later"]
    ]
    assert len(await store.search_messages(agent_id, "pizza", limit=1)) == 1


async def test_search_filters_time_window_and_in_context(store: SqliteStore) -> None:
    agent_id, by_text = await _history(store)
    hits = await store.search_messages(agent_id, "pizza", start_at=T0 + 15, end_at=T0 + 50)
    assert {h.message.id for h in hits} == {by_text["Pizza pizza pizza is great"],
                                             by_text["running late, talk about pizza later"]}
    assert [h.message.created_at for h in await store.search_messages(agent_id, "pizza", end_at=T0 + 10)] == [
        T0 + 10
    ]
    assert await store.search_messages(agent_id, "weather") == []  # still in context
    assert await store.search_messages("agent-other", "pizza") == []


async def test_a_message_becomes_searchable_when_it_leaves_the_context(store: Any) -> None:
    """Only messages out of context are searched; SQLite indexes a message when it is evicted or stored out of
    context (migration 0014), edits and deletes keep the index true."""
    agent = await make_agent(store)
    live = await store.append_messages([msg(agent.id, "user", "my parrot is called Kiwi", at=T0),
                                        msg(agent.id, "assistant", "Kiwi is a fine parrot name", at=T0 + 1),
                                        msg(agent.id, "user", "tell me about volcanoes", at=T0 + 2)])
    [old] = await store.append_messages([msg(agent.id, "user", "an imported parrot story", at=T0 - 100,
                                             in_context=False, kind="imported")])
    assert [h.message.id for h in await store.search_messages(agent.id, "parrot")] == [old.id]
    await store.evict_messages(agent.id, through_seq=live[1].seq)
    assert {h.message.id for h in await store.search_messages(agent.id, "parrot")} == {old.id, live[0].id,
                                                                                        live[1].id}
    assert await store.search_messages(agent.id, "volcanoes") == []
    await store.update_message(live[0].id, content="my cat is called Kiwi")
    assert {h.message.id for h in await store.search_messages(agent.id, "parrot")} == {old.id, live[1].id}
    assert [h.message.id for h in await store.search_messages(agent.id, "cat")] == [live[0].id]
    if isinstance(store, SqliteStore):  # the FTS5 index never held the in-context line
        [[docs]] = await store._db.execute_fetchall("SELECT count(*) FROM messages_vocab WHERE term = 'volcano'")
        assert docs == 0
        await store._db.execute_fetchall("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 0)")
        return
    async with store._pool.acquire() as conn:  # no tsvector and no term statistics for the in-context line
        assert await conn.fetchval("SELECT tsv FROM messages WHERE id = $1", live[2].id) is None
        assert await conn.fetchval("SELECT count(*) FROM fts_terms WHERE agent_id = $1 AND kind = 'm' "
                                   "AND term = 'volcano'", agent.id) == 0
        assert await conn.fetchval("SELECT docs FROM fts_docs WHERE agent_id = $1 AND kind = 'm'", agent.id) == 3


@pytest.mark.parametrize(
    "query",
    ['"foo OR (', "NEAR/3 *", "pizza AND", ")(*&^%$#@!", "'; DROP TABLE messages; --", "col:pizza",
     '"', "NOT", "-pizza", "^pizza", "pizza*", "the of and", "", "   ", "\x00", "🍕🍕", "{pizza}"],
)
async def test_hostile_queries_never_raise(store: SqliteStore, query: str) -> None:
    agent_id, _ = await _history(store)
    hits = await store.search_messages(agent_id, query)
    assert all(h.message.role in ("user", "assistant") for h in hits)
    await store.search_passages_text(agent_id, query)
    assert len(await store.list_messages(agent_id)) == 8


async def test_search_words_are_or_ed_and_operators_are_plain_words(store: SqliteStore) -> None:
    agent_id, by_text = await _history(store)
    hits = await store.search_messages(agent_id, "Rex OR pineapple NEAR/3 *")
    assert {h.message.id for h in hits} == {by_text["my dog is called Rex"],
                                             by_text["I love pizza with pineapple"]}


async def test_batches_larger_than_one_statement_keep_order_and_seq(store: SqliteStore) -> None:
    agent = await make_agent(store)
    await store.append_messages([msg(agent.id, "user", "first")])
    batch = [msg(agent.id, "user" if i % 2 else "assistant", f"line {i}") for i in range(2500)]
    stored = await store.append_messages(batch)
    assert [m.seq for m in stored] == list(range(2, 2502))
    listed = await store.list_messages(agent.id, after_seq=1)
    assert [m.id for m in listed] == [m.id for m in batch]


async def test_the_in_context_window_is_read_through_its_own_index(store: Any) -> None:
    """Every turn reads the agent's in-context window; through (agent_id, seq) alone that walked every message the
    agent ever had (migration SQLite 0013 / PostgreSQL 0009), so a turn's cost grew with the agent's age."""
    agent = await make_agent(store)
    stored = await store.append_messages([msg(agent.id, "user", f"line {i}", at=T0 + i) for i in range(40)])
    assert await store.evict_messages(agent.id, through_seq=stored[29].seq) == 30
    assert [m.seq for m in await store.list_messages(agent.id, in_context=True)] == [m.seq for m in stored[30:]]
    assert len(await store.list_messages(agent.id, in_context=False)) == 30
    if isinstance(store, SqliteStore):
        from voice_letta.store.sqlite.windows import HISTORY_JSON

        for sql in (HISTORY_JSON, "SELECT id FROM messages WHERE agent_id = ? AND in_context = 1 ORDER BY seq DESC "
                              "LIMIT 5"):
            plan = " ".join(str(r[-1]) for r in await store._db.execute_fetchall(f"EXPLAIN QUERY PLAN {sql}",
                                                                                  (agent.id,)))
            assert "messages_in_context" in plan, plan
        return
    async with store._pool.acquire() as conn:  # the planner's choice between the two indexes, not a seq scan
        await conn.execute("SET enable_seqscan = off")
        plan = " ".join(r[0] for r in await conn.fetch(
            "EXPLAIN SELECT id FROM messages WHERE agent_id = $1 AND in_context = 1 ORDER BY seq", agent.id))
        await conn.execute("RESET enable_seqscan")
    assert "messages_in_context" in plan, plan
