"""Archival passages (embeddings, text search, time windows) and turn records in the SQLite store."""

from __future__ import annotations

import pytest

from tests.integration.store.helpers import make_agent, raw
from voice_letta import ids
from voice_letta.agent.models import Passage, TurnRecord, Usage
from voice_letta.errors import ConfigError, NotFoundError, StorageError
from voice_letta.store import SqliteStore

T0 = 1_700_000_000.0


def _passage(agent_id: str, text: str, synopsis: str = "", **kw: object) -> Passage:
    return Passage(id=ids.passage_id(), agent_id=agent_id, text=text, synopsis=synopsis, **kw)  # type: ignore[arg-type]


async def test_passages_round_trip_with_float32_embeddings(store: SqliteStore) -> None:
    agent = await make_agent(store)
    emb = [0.5, -1.25, 3.0, 0.1]
    [stored] = await store.insert_passages(
        [_passage(agent.id, "we talked about boats", "boats", embedding=emb, embedding_model="m",
                  start_at=T0, end_at=T0 + 60, created_at=T0 + 100)]
    )
    assert stored.embedding_dim == 4
    [loaded] = await store.list_passages(agent.id)
    assert loaded.embedding is not None
    assert loaded.embedding[:3] == [0.5, -1.25, 3.0]
    assert loaded.embedding[3] == pytest.approx(0.1, rel=1e-6)
    assert loaded.model_dump(exclude={"embedding"}) == stored.model_dump(exclude={"embedding"})
    [(blob,)] = await raw(store, "SELECT embedding FROM passages")
    assert isinstance(blob, bytes)
    assert len(blob) == 16 and blob[:4] == b"\x00\x00\x00\x3f"  # 0.5 as float32 little-endian
    with pytest.raises(ConfigError):
        await store.insert_passages([_passage(agent.id, "x", embedding=[1.0], embedding_dim=3)])


async def test_list_passages_pages_in_creation_order_and_delete(store: SqliteStore) -> None:
    agent = await make_agent(store)
    await store.insert_passages([_passage(agent.id, f"p{i}", created_at=T0 + i) for i in range(5)])
    page = await store.list_passages(agent.id, limit=2, offset=2)
    assert [p.text for p in page] == ["p2", "p3"]
    await store.delete_passage(agent.id, page[0].id)
    assert [p.text for p in await store.list_passages(agent.id)] == ["p0", "p1", "p3", "p4"]
    with pytest.raises(NotFoundError):
        await store.delete_passage(agent.id, page[0].id)
    with pytest.raises(NotFoundError):
        await store.delete_passage("agent-other", page[1].id)
    assert await store.search_passages_text(agent.id, "p2") == []


async def test_passage_for_unknown_agent_is_a_storage_error(store: SqliteStore) -> None:
    with pytest.raises(StorageError):
        await store.insert_passages([_passage("agent-missing", "x")])


async def test_passage_search_ranks_synopsis_and_text(store: SqliteStore) -> None:
    agent = await make_agent(store)
    boats, cats, both = await store.insert_passages([
        _passage(agent.id, "user: I sail boats. assistant: Nice!", "The user sails boats."),
        _passage(agent.id, "user: my cat is old", "The user has an old cat."),
        _passage(agent.id, "user: my cat hates boats, boats, boats", "Cat and boats."),
    ])
    hits = await store.search_passages_text(agent.id, "boats")
    assert [h.passage.id for h in hits] == [both.id, boats.id]
    assert hits[0].score > hits[1].score > 0
    assert {h.passage.id for h in await store.search_passages_text(agent.id, "sailing cats")} == {
        boats.id, cats.id, both.id
    }
    assert await store.search_passages_text(agent.id, "boats", limit=0) == []
    assert await store.search_passages_text("agent-other", "boats") == []


async def test_passage_time_window_uses_when_the_words_were_said(store: SqliteStore) -> None:
    agent = await make_agent(store)
    # created long after they were said: created_at must not decide the window
    morning, evening, spanning, undated = await store.insert_passages([
        _passage(agent.id, "coffee in the morning", start_at=T0, end_at=T0 + 100, created_at=T0 + 10_000),
        _passage(agent.id, "coffee in the evening", start_at=T0 + 500, end_at=T0 + 600, created_at=T0 + 10_000),
        _passage(agent.id, "coffee all day", start_at=T0 + 50, end_at=T0 + 550, created_at=T0 + 10_000),
        _passage(agent.id, "coffee undated", created_at=T0 + 10_000),
    ])

    async def window(start: float | None, end: float | None) -> set[str]:
        hits = await store.search_passages_text(agent.id, "coffee", start_at=start, end_at=end)
        return {h.passage.id for h in hits}

    assert await window(T0 + 200, T0 + 300) == {spanning.id}
    assert await window(T0 + 90, T0 + 510) == {morning.id, evening.id, spanning.id}
    assert await window(None, T0 + 10) == {morning.id}
    assert await window(T0 + 580, None) == {evening.id, undated.id}
    assert await window(T0 + 20_000, None) == set()
    assert await window(None, None) == {morning.id, evening.id, spanning.id, undated.id}


async def test_save_turn_upserts_and_find_turn_by_fingerprint(store: SqliteStore) -> None:
    agent = await make_agent(store)
    turn = TurnRecord(id=ids.turn_id(), agent_id=agent.id, fingerprint="fp-1", started_at=T0)
    await store.save_turn(turn)
    assert await store.find_turn(agent.id, "fp-1") == turn
    done = turn.model_copy(update={
        "stop_reason": "end_turn", "usage": Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15),
        "timings_ms": {"llm_ttft": 120.5, "tts_first": 80.0}, "steps": 2, "ended_at": T0 + 1.5,
    })
    await store.save_turn(done)
    assert await store.find_turn(agent.id, "fp-1") == done
    later = TurnRecord(id=ids.turn_id(), agent_id=agent.id, fingerprint="fp-1", started_at=T0 + 60,
                       error="provider timed out")
    await store.save_turn(later)
    assert await store.find_turn(agent.id, "fp-1") == later  # the most recent one
    assert await store.find_turn(agent.id, "fp-2") is None
    other = await make_agent(store, "other")
    assert await store.find_turn(other.id, "fp-1") is None
    with pytest.raises(StorageError):
        await store.save_turn(TurnRecord(id=ids.turn_id(), agent_id="agent-missing"))


async def test_large_passage_batches_are_stored_whole(store: SqliteStore) -> None:
    agent = await make_agent(store)
    stored = await store.insert_passages([_passage(agent.id, f"p{i}", created_at=T0 + i) for i in range(3500)])
    assert len(stored) == 3500
    assert len(await store.list_passages(agent.id, limit=10_000)) == 3500
