"""Work a search does ahead or keeps per index gives the results it would compute on the spot: BM25 scored while the
queries are embedded (``PassageIndex.keyword_half``), a coarse search's sample rows (``VectorIndex.sample``) and the
rows' content terms (``PassageIndex.content_terms``)."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_letta.agent.recall.index import PassageIndex
from voice_letta.agent.recall.vector import STATS_SAMPLE_ROWS, SearchWindow

WORDS = ["coffee", "bike", "garden", "sister", "lisbon", "moved", "now", "rent", "doctor", "knee", "flight", "dog",
         "tutor", "guitar", "salary", "kitchen", "cake", "novel", "switched", "tuesday"]
SPEAKERS = ["user", "assistant", "Ana", "Ben"]


def _fill(index: PassageIndex, rng: random.Random, gen: np.random.Generator, first: int, k: int) -> None:
    lines = [f"{rng.choice(SPEAKERS)}: {' '.join(rng.choices(WORDS, k=rng.randint(2, 9)))}" for _ in range(k)]
    at = [1.7e9 + 600.0 * (first + i) + rng.random() * 300 for i in range(k)]
    vectors = gen.standard_normal((k, index.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index.add([f"p{first + i}" for i in range(k)], lines, [""] * k, at, [t + 60 for t in at], vectors, [True] * k)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(20, 160), st.booleans())
def test_bm25_scored_ahead_ranks_as_scored_in_rank(seed: int, n: int, coarse: bool) -> None:
    rng, gen = random.Random(seed), np.random.default_rng(seed)
    index = PassageIndex("test", 16, coarse_min_rows=8 if coarse else 10**9)
    _fill(index, rng, gen, 0, n)
    queries = [f"what did I say about {rng.choice(WORDS)} and {rng.choice(WORDS)}?", " ".join(rng.choices(WORDS, k=2))]
    vectors = gen.standard_normal((2, 16)).astype(np.float32)
    window = SearchWindow(None, None)
    plain = index.rank(vectors, queries, window, limit=5, speaker="user")
    assert index.rank(vectors, queries, window, limit=5, speaker="user",
                      keyword=index.keyword_half(queries)) == plain
    stale = index.keyword_half(queries)  # scored before more rows came: not used
    _fill(index, rng, gen, n, 7)
    assert index.rank(vectors, queries, window, limit=5, speaker="user", keyword=stale) == \
        index.rank(vectors, queries, window, limit=5, speaker="user")
    other = index.keyword_half(queries[:1])  # of other queries: not used
    assert index.rank(vectors, queries, window, limit=5, keyword=other) == index.rank(vectors, queries, window, limit=5)


def test_the_kept_sample_and_content_terms_are_those_of_the_rows_now() -> None:
    rng, gen = random.Random(1), np.random.default_rng(1)
    index = PassageIndex("test", 16, coarse_min_rows=8)
    _fill(index, rng, gen, 0, 3000)
    for n in (3000, 3050):
        if n > index.size:
            _fill(index, rng, gen, index.size, n - index.size)
        rows = np.linspace(0, n - 1, min(STATS_SAMPLE_ROWS, n)).astype(np.int64)
        assert np.array_equal(index.vectors.sample(n), index.vectors.matrix[rows])
        assert index.vectors.sample(n) is index.vectors.sample(n)
    for row in (0, 17, 3049):
        assert index.content_terms(row) == frozenset(index.terms_of(row).tolist())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=False), min_size=1, max_size=64), st.sampled_from([0.5, 1.0]),
       st.integers(0, 2**32 - 1))
def test_a_boost_summed_in_float32_is_the_float64_sum_rounded(values: list[float], boost: float, seed: int) -> None:
    """ranking.rank adds SPEAKER_BOOST and DATE_BOOST in float32 (it summed in float64 and rounded): bit for bit the
    same, since a float64 sum of two float32 values rounded to float32 is the correctly rounded float32 sum."""
    fused = np.asarray(values, dtype=np.float32)
    on = np.random.default_rng(seed).random(len(values)) < 0.5
    before = (fused + boost * on).astype(np.float32)
    after = (fused + np.float32(boost) * on).astype(np.float32, copy=False)
    assert after.dtype == np.float32 and np.array_equal(before.view(np.uint32), after.view(np.uint32))
