"""The cross-lingual lane's scores (recall/cross.py): rows with a second vector are scored by the question's e5
cosine, standardised over the lane's rows and put on the agent's own MiniLM scale; other rows keep MiniLM's. Two
lane rows are compared by e5 and MiniLM together, on MiniLM's scale of two passages (``PassageIndex.pair_cosines``)."""

from __future__ import annotations

import numpy as np

from voice_letta.agent.recall.cross import (
    E5_MEAN,
    MINI_PAIR_MEAN,
    PAIR_E5_MEAN,
    PAIR_E5_SPREAD,
    PAIR_MINI_MEAN,
    PAIR_MINI_SPREAD,
    PAIR_PRIOR,
    on_pair_scale,
    pair_scale,
    with_cross,
)
from voice_letta.agent.recall.index import PassageIndex
from voice_letta.agent.recall.updates import DUPLICATE_COSINE


def _unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    out: np.ndarray = a / np.linalg.norm(a)
    return out


def _at_cosine(query: np.ndarray, cosine: float, rng: np.random.Generator) -> np.ndarray:
    """A unit vector whose cosine to ``query`` is ``cosine``."""
    other = rng.normal(size=query.shape)
    other -= (other @ query) * query
    out: np.ndarray = (cosine * query + (1 - cosine ** 2) ** 0.5 * other / np.linalg.norm(other)).astype(np.float32)
    return out


def test_lane_rows_are_ranked_by_e5_on_the_agents_minilm_scale() -> None:
    rng = np.random.default_rng(7)
    dense = rng.normal(0.15, 0.1, size=(60, 1)).astype(np.float32)  # MiniLM cosines of 60 rows
    dense[0, 0] = 0.6  # an English answer
    rows = np.arange(40, 60)  # twenty rows MiniLM cannot read: their MiniLM cosines are noise
    query = _unit(list(rng.normal(size=16)))
    lane = np.stack([_at_cosine(query, float(rng.normal(0.78, 0.015)), rng) for _ in rows])  # e5's usual level
    lane[5] = _at_cosine(query, 0.86, rng)  # the one the question asks about (e5 of a cross-lingual answer)
    dense[45, 0] = 0.05  # ... which MiniLM scored low
    out = with_cross(dense, rows, lane, query[None, :], np.ones(60, dtype=bool))
    # now on top of its lane and above nearly every English row
    assert out[45, 0] == out[40:60, 0].max() and out[45, 0] > np.quantile(dense[1:40, 0], 0.95)
    assert np.array_equal(out[:40], dense[:40])  # other rows keep MiniLM's cosine
    mini = dense[:40, 0]
    assert abs(float(np.median(out[40:60, 0])) - float(mini.mean())) < 2 * float(mini.std())  # the agent's scale


def test_two_lane_rows_are_not_spread_by_their_own_two_numbers() -> None:
    dense = np.full((30, 1), 0.1, dtype=np.float32)
    dense[:, 0] += np.linspace(0.0, 0.2, 30, dtype=np.float32)
    rows = np.array([3, 4])
    rng = np.random.default_rng(3)
    query = _unit(list(rng.normal(size=16)))
    # two unrelated passages, e5 cosines at its usual level: neither is lifted above the agent's rows
    lane = np.stack([_at_cosine(query, E5_MEAN + 0.01, rng), _at_cosine(query, E5_MEAN - 0.01, rng)])
    out = with_cross(dense, rows, lane, query[None, :], np.ones(30, dtype=bool))
    assert out[rows, 0].max() < float(dense[:, 0].max())


def test_without_queries_or_rows_nothing_changes() -> None:
    dense = np.random.default_rng(1).random((5, 2)).astype(np.float32)
    lane = np.ones((1, 3), dtype=np.float32)
    assert with_cross(dense, np.array([], dtype=np.int64), np.zeros((0, 3)), np.ones((2, 3)), np.ones(5, bool)) is dense
    assert with_cross(dense, np.array([1]), lane, np.zeros((0, 3)), np.ones(5, bool)) is dense
    # a second query without an e5 vector keeps MiniLM's column
    out = with_cross(dense, np.array([1]), lane / np.sqrt(3), np.ones((1, 3)) / np.sqrt(3), np.ones(5, bool))
    assert np.array_equal(out[:, 1], dense[:, 1])


def _index_of(minilm: np.ndarray) -> PassageIndex:
    n, dim = minilm.shape
    index = PassageIndex("minilm", dim)
    index.add([f"p{i}" for i in range(n)], [f"user: line {i}" for i in range(n)], [""] * n,
              [1000.0 + i for i in range(n)], [1000.0 + i for i in range(n)], minilm, [True] * n)
    return index


def test_two_lane_rows_are_compared_by_e5_on_minilms_pair_scale() -> None:
    rng = np.random.default_rng(11)
    # six rows MiniLM cannot read: it puts them all close together (cosines ~0.9), two English rows elsewhere
    centre = _unit(list(rng.normal(size=16)))
    minilm = np.stack([_at_cosine(centre, 0.95, rng) for _ in range(6)]
                      + [_unit(list(rng.normal(size=16))) for _ in range(2)])
    index = _index_of(minilm)
    # e5 reads them: rows 0 and 3 are one thing said twice, the others unrelated, at e5's usual high level
    base = _unit(list(rng.normal(size=32)))
    e5 = np.stack([_at_cosine(base, 0.94, rng) for _ in range(6)])
    e5[3] = _unit(list(0.8 * e5[0] + 0.2 * base))
    rows = np.arange(8)
    m = index.vectors.matrix[rows]
    before = index.pair_cosines(rows, rows)
    assert np.array_equal(before, m @ m.T)  # no lane rows yet: MiniLM's products as they were
    index.add_cross([f"p{i}" for i in range(6)], e5)
    after = index.pair_cosines(rows, rows)
    others = [after[i, j] for i in range(6) for j in range(i + 1, 6) if (i, j) != (0, 3)]
    assert after[0, 3] >= DUPLICATE_COSINE > max(others)  # the same thing stands out; MiniLM had all ~0.9 alike
    assert np.array_equal(after[6:, :], before[6:, :]) and np.array_equal(after[:6, 6:], before[:6, 6:])
    assert abs(index.pair_cosine(0, 3) - after[0, 3]) < 1e-6 and index.pair_cosine(0, 6) == float(m[0] @ m[6])
    # one row against many (cued.cue_target's shape): the same numbers
    assert np.allclose(index.lane_cosines(m @ m[0], np.arange(8), 0), after[:, 0])


def test_the_pair_scale_of_a_few_lane_rows_is_mostly_the_prior() -> None:
    rng = np.random.default_rng(5)
    two = np.stack([_unit(list(rng.normal(size=8))) for _ in range(2)])
    scale = pair_scale(two, two)  # one pair: its own cosine counts once against PAIR_PRIOR pseudo-pairs
    cosine = float(two[0] @ two[1])
    assert abs(scale.e5_mean - (cosine + PAIR_PRIOR * PAIR_E5_MEAN) / (1 + PAIR_PRIOR)) < 1e-6
    assert abs(scale.mini_mean - (cosine + PAIR_PRIOR * PAIR_MINI_MEAN) / (1 + PAIR_PRIOR)) < 1e-6
    assert pair_scale(two[:1], two[:1]) == (PAIR_E5_MEAN, PAIR_E5_SPREAD, PAIR_MINI_MEAN, PAIR_MINI_SPREAD)
    # a pair at the agent's mean of both lands on MiniLM's mean of two English passages
    at_mean = on_pair_scale(np.array([[scale.e5_mean]]), np.array([[scale.mini_mean]]), scale)
    assert abs(float(at_mean[0, 0]) - MINI_PAIR_MEAN) < 1e-6
