"""The cross-lingual lane's scores (recall/cross.py): rows with a second vector are scored by the question's e5
cosine, standardised over the lane's rows and put on the agent's own MiniLM scale; other rows keep MiniLM's."""

from __future__ import annotations

import numpy as np

from voice_letta.agent.recall.cross import E5_MEAN, with_cross


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
