"""Second, cross-lingual vectors of passages (SQLite migration 0019 / PostgreSQL 0016, ``recall/cross.py``): a
passage is unjudged until the lane records a verdict (its vector, or none needed); verdicts of another model do not
count; they go with their passage and stay with their agent."""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.integration.store.helpers import make_agent
from voice_letta import ids
from voice_letta.agent.models import Passage

MODEL = "multilingual-e5-small-q4"


def _passage(agent_id: str, text: str) -> Passage:
    return Passage(id=ids.passage_id(), agent_id=agent_id, text=text)


def _rows(vectors: bytes, n: int, dim: int) -> np.ndarray:
    return np.frombuffer(vectors, dtype="<f4").reshape(n, dim)


async def test_passages_are_unjudged_until_a_verdict_is_stored(store: Any) -> None:
    agent = await make_agent(store)
    a, b, c = (_passage(agent.id, t) for t in ("user: 김장은 이모네 집에서 해", "user: I bought a bike", "user: ok"))
    await store.insert_passages([a, b, c])
    first = await store.load_cross_vectors(agent.id, MODEL, 4)
    assert first.ids == () and first.unjudged == (a.id, b.id, c.id)

    assert await store.set_cross_vectors(agent.id, [(a.id, [0.5, -0.5, 0.25, 1.0]), (b.id, None)], model=MODEL) == 2
    got = await store.load_cross_vectors(agent.id, MODEL, 4)
    assert got.ids == (a.id,) and got.unjudged == (c.id,) and got.dim == 4
    assert _rows(got.vectors, 1, 4).tolist() == [[0.5, -0.5, 0.25, 1.0]]
    # a verdict of another model is no verdict of this one
    other = await store.load_cross_vectors(agent.id, "another-model", 4)
    assert other.ids == () and other.unjudged == (a.id, b.id, c.id)


async def test_second_vectors_go_with_their_passage_and_stay_with_their_agent(store: Any) -> None:
    agent, stranger = await make_agent(store), await make_agent(store, "bo")
    a, b = _passage(agent.id, "user: reuni SMA jadi tanggal 19"), _passage(agent.id, "user: arisan pindah")
    await store.insert_passages([a, b])
    # another agent cannot write verdicts on these passages
    assert await store.set_cross_vectors(stranger.id, [(a.id, [1.0, 0.0])], model=MODEL) == 0
    assert await store.set_cross_vectors(agent.id, [(a.id, [1.0, 0.0]), (b.id, [0.0, 1.0])], model=MODEL) == 2
    await store.delete_passage(agent.id, a.id)
    got = await store.load_cross_vectors(agent.id, MODEL, 2)
    assert got.ids == (b.id,) and got.unjudged == ()
    assert _rows(got.vectors, 1, 2).tolist() == [[0.0, 1.0]]
    assert (await store.load_cross_vectors(stranger.id, MODEL, 2)).ids == ()
    assert await store.set_cross_vectors(agent.id, [], model=MODEL) == 0
