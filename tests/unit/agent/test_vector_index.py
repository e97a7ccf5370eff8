"""VectorIndex: the exact scan and the sign-bit search that replaces it on large indexes agree.

Vectors are built like sentence embeddings (a few shared topic directions plus noise, normalized), so sign bits
carry the same kind of signal as on real MiniLM vectors; bench/vector_recall.py measures the real ones.
"""

from __future__ import annotations

import numpy as np
import pytest

from voice_letta.agent.memory_search import MIN_COSINE, SearchWindow, VectorIndex, sign_words

DIM = 384
EVERYTHING = SearchWindow(None, None)


def embeddings(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((40, DIM)).astype(np.float32)
    mix = rng.dirichlet(np.full(40, 0.3), size=n).astype(np.float32)
    vectors = mix @ topics + 0.35 * rng.standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def pair(n: int) -> tuple[VectorIndex, VectorIndex, np.ndarray]:
    vectors = embeddings(n)
    coarse, exact = VectorIndex("m", DIM, coarse_min_rows=0), VectorIndex("m", DIM, coarse_min_rows=10**9)
    ids = [f"p{i}" for i in range(n)]
    for index in (coarse, exact):
        for start in range(0, n, 1500):  # several appends: the bit matrix grows with the float one
            stop = min(n, start + 1500)
            index.add(ids[start:stop], vectors[start:stop], [float(i) for i in range(start, stop)],
                      [float(i) + 0.5 for i in range(start, stop)])
    return coarse, exact, vectors


def test_sign_bits_follow_every_append() -> None:
    coarse, _, vectors = pair(4000)
    assert coarse.bits.shape[0] == DIM // 64
    assert np.array_equal(coarse.bits[:, : coarse.size].T, sign_words(vectors))
    odd = sign_words(np.array([[1.0, -1.0, 2.0] * 30]))  # 90 dimensions: padded to two words
    assert odd.shape == (1, 2)


def test_sign_bit_search_finds_what_the_exact_scan_finds() -> None:
    coarse, exact, vectors = pair(6000)
    rng = np.random.default_rng(5)
    picks = rng.choice(len(vectors), 60, replace=False)
    queries = vectors[picks] + 0.03 * rng.standard_normal((60, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    agreement = []
    for pick, q in zip(picks, queries, strict=True):
        fast = coarse.search(q[None, :], EVERYTHING, 20)[0]
        truth = exact.search(q[None, :], EVERYTHING, 20)[0]
        assert fast[0][0] == f"p{pick}"  # the planted row is always first
        scores = [s for _, s in fast]
        assert scores == sorted(scores, reverse=True) and min(scores) >= MIN_COSINE
        for pid, score in fast:  # scores are exact cosines, not estimates
            assert score == pytest.approx(float(vectors[int(pid[1:])] @ q), abs=1e-5)
        agreement.append(len({p for p, _ in fast[:5]} & {p for p, _ in truth[:5]}) / 5)
    assert np.mean(agreement) >= 0.95


def test_time_window_and_noise_floor_apply_to_the_sign_bit_search() -> None:
    coarse, exact, vectors = pair(5000)
    window = SearchWindow(1000.0, 2000.0)  # rows 1000..2000 overlap it
    for q in vectors[[10, 1500, 4000]]:
        fast = coarse.search(q[None, :], window, 20)[0]
        assert fast and all(999 <= int(pid[1:]) <= 2000 for pid, _ in fast)
        assert [p for p, _ in fast[:3]] == [p for p, _ in exact.search(q[None, :], window, 20)[0][:3]]
    assert coarse.search(vectors[:1], SearchWindow(10**9, None), 20) == [[]]  # nothing said in the window
    opposite = coarse.search(-vectors[:1], EVERYTHING, 20)[0]  # row 0 scores -1: under the noise floor
    assert all(pid != "p0" and s >= MIN_COSINE for pid, s in opposite)


def test_several_queries_at_once_and_empty_index() -> None:
    coarse, _, vectors = pair(3000)
    results = coarse.search(vectors[[1, 2, 3]], EVERYTHING, 5)
    assert [r[0][0] for r in results] == ["p1", "p2", "p3"]
    assert VectorIndex("m", DIM, coarse_min_rows=0).search(vectors[:2], EVERYTHING, 5) == [[], []]
