"""Keyword terms stored with passages and messages (migration 0008 / PostgreSQL 0003): written by every insert,
loaded with the passages, written back for old rows without a change-log row, refreshed when a line is edited."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from tests.integration.store.helpers import make_agent, msg, raw
from voice_letta import ids
from voice_letta.agent.models import Passage
from voice_letta.agent.ports import HandoffRange
from voice_letta.agent.recall import features as F
from voice_letta.agent.recall import quantity as Q
from voice_letta.agent.recall import text as T
from voice_letta.store import rows as R


def _passage(agent_id: str, text: str, synopsis: str = "") -> Passage:
    return Passage(id=ids.passage_id(), agent_id=agent_id, text=text, synopsis=synopsis)


def _ids(text: str) -> list[int]:
    return T.term_ids(text)


async def test_inserted_passages_carry_their_terms_and_load_with_them(store: Any) -> None:
    agent = await make_agent(store)
    a, b = _passage(agent.id, "user: I moved to Lisbon in May", "Moving"), _passage(agent.id, "user: running daily")
    await store.insert_passages([a, b])
    c = _passage(agent.id, "user: my sister Ana visits", "Family")
    job = await store.enqueue_memory_job(agent.id, "eviction", HandoffRange(older_from_seq=1, older_through_seq=1),
                                         through_seq=1, now=1.0)
    assert await store.insert_job_passages(job.id, [("0-0", c)]) == [c.id]
    loaded = await store.load_passage_texts(agent.id)
    assert loaded.ids == (a.id, b.id, c.id)
    decoded = [F.decode_passage(blob) for blob in loaded.terms]
    assert [d[1].tolist() for d in decoded if d is not None] == [
        _ids("Moving\nuser: I moved to Lisbon in May"), _ids("user: running daily"),
        _ids("Family\nuser: my sister Ana visits")]
    flags = [d[0] for d in decoded if d is not None]  # the per-passage flags ranking reads, stored beside them
    # "moved" is an update cue; a synopsis with no first-person word is the sleeptime model's note about the user;
    # "in May" and "daily" say when (what "when is…" asks for: recall/quantity.DAY)
    # "moved to Lisbon" a move to a new place (recall/facts.says_new_place), and "moved" says something gave way
    # (recall/facts.ENDING_CUE); "May" is a day said next to the change cue (recall/cues.change_kinds)
    assert flags[0] == (F.DIALOGUE | F.UPDATE_CUE | F.STRONG_CUE | F.THIRD_PERSON | F.HAS_DAY | F.NEW_PLACE
                        | F.ENDING | Q.DAY << F.CHANGE_SHIFT)
    assert flags[1] == F.DIALOGUE | F.HAS_DAY
    assert flags[2] == F.DIALOGUE | F.THIRD_PERSON


async def test_passage_terms_are_computed_off_the_event_loop(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A passage's terms and flags cost ~5 ms of CPU per 2,000 characters: a batch computed on the event loop held
    every session of the process (QA: 1,000 such passages through the REST batch stalled the loop ~10 s)."""
    agent = await make_agent(store)
    threads: list[int] = []
    encode = R.encode_passage

    def recorded(text: str, synopsis: str) -> bytes:
        threads.append(threading.get_ident())
        return encode(text, synopsis)

    monkeypatch.setattr(R, "encode_passage", recorded)
    batch = [_passage(agent.id, f"user: line {i} about the garden shed " * 40) for i in range(3)]
    await store.insert_passages(batch)
    job = await store.enqueue_memory_job(agent.id, "eviction", HandoffRange(older_from_seq=1, older_through_seq=1),
                                         through_seq=1, now=1.0)
    later = _passage(agent.id, "user: the shed is painted green", "Shed")
    assert await store.insert_job_passages(job.id, [("0-0", later)]) == [later.id]
    assert len(threads) == 4 and threading.get_ident() not in threads
    loaded = await store.load_passage_texts(agent.id)
    assert [F.decode_passage(blob) is not None for blob in loaded.terms] == [True] * 4


async def test_terms_written_back_for_old_rows_log_no_change(store: Any, other: Any) -> None:
    agent = await make_agent(store)
    p = _passage(agent.id, "user: the dentist is on Friday")
    await store.insert_passages([p])
    await raw(store, "UPDATE passages SET terms = NULL")  # a row written before the migration
    assert (await store.load_passage_texts(agent.id)).terms == (None,)
    start = await store.latest_change_id()
    blob = F.encode_passage(p.text, p.synopsis)
    assert await store.set_passage_terms(agent.id, [(p.id, blob)]) == 1
    assert await store.set_passage_terms("agent-unknown", [(p.id, blob)]) == 0
    assert (await other.load_passage_texts(agent.id)).terms == (blob,)
    assert await other.changes_since(start) == []  # other processes keep their loaded index
    await store.set_passage_embeddings(agent.id, [(p.id, [1.0, 0.0])], model="m")
    assert [c.kind for c in await other.changes_since(start)] == ["passages"]  # a real change still is logged


async def test_user_and_assistant_lines_store_terms_and_an_edit_refreshes_them(store: Any) -> None:
    agent = await make_agent(store)
    rows = await store.append_messages([
        msg(agent.id, "user", "Book the flight to Tokyo"), msg(agent.id, "assistant", "Booking flights now"),
        msg(agent.id, "tool", "ok"), msg(agent.id, "system", "be brief")])
    found = dict(await raw(store, "SELECT id, terms FROM messages"))
    assert np.array_equal(T.decode_terms(found[rows[0].id]), np.asarray(_ids("Book the flight to Tokyo"), np.uint64))
    assert T.decode_terms(found[rows[1].id]) is not None
    assert found[rows[2].id] is None and found[rows[3].id] is None
    await store.update_message(rows[1].id, content="Booking the train instead", interrupted=True)
    await store.update_message(rows[0].id, interrupted=True)  # no new content: terms unchanged
    await store.update_message(rows[2].id, content="still a tool row")
    found = dict(await raw(store, "SELECT id, terms FROM messages"))
    assert T.decode_terms(found[rows[1].id]).tolist() == _ids("Booking the train instead")  # type: ignore[union-attr]
    assert T.decode_terms(found[rows[0].id]).tolist() == _ids("Book the flight to Tokyo")  # type: ignore[union-attr]
    assert found[rows[2].id] is None
