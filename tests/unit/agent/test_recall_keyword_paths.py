"""BM25 with context scores a rare term on its own rows and a common one on arrays of every row
(``KeywordIndex.score``): both give exactly the scores of the plain definition, bit for bit."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_letta.agent.recall.keyword import K1, SPARSE_SHARE, B, KeywordIndex, TermRows


def _reference(index: KeywordIndex, tids: list[int], prev: np.ndarray, weight: float, lengths: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """BM25F over every row: a row's term frequency plus ``weight`` x its predecessor's, in float32."""
    n = index.n
    avg = float(lengths.mean()) or 1.0
    norm = (K1 * (1.0 - B + B * lengths / avg)).astype(np.float32)
    acc = np.zeros(n, dtype=np.float32)
    for tid in dict.fromkeys(tids):
        rows, tfs = index.postings_of(tid)
        if not len(rows):
            continue
        tf = np.zeros(n, dtype=np.float32)
        tf[rows] = tfs
        tf += np.where(prev >= 0, weight * tf[np.maximum(prev, 0)], np.float32(0.0))
        cand = np.flatnonzero(tf)
        df = len(cand)
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        acc[cand] += (idf * tf[cand] * (K1 + 1.0) / (tf[cand] + norm[cand])).astype(np.float32)
    hit = np.flatnonzero(acc)
    return hit, acc[hit]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(40, 400), st.lists(st.integers(0, 5), min_size=1, max_size=4))
def test_rare_and_common_terms_score_as_the_definition(seed: int, n: int, picks: list[int]) -> None:
    rng = np.random.default_rng(seed)
    # six terms from very rare to said by most rows (some rows say one twice), across the SPARSE_SHARE line
    shares = [0.5 / n, 0.02, 0.5 / SPARSE_SHARE, 2.0 / SPARSE_SHARE, 0.5, 0.9]
    docs = []
    for _ in range(n):
        said = [t + 1 for t, share in enumerate(shares) if rng.random() < share]
        docs.append(np.asarray(said + said[: rng.integers(0, 2)] + [100 + int(rng.integers(0, 50))], dtype=np.uint64))
    index = KeywordIndex()
    index.add_rows(TermRows.of(docs))
    # runs of lines said one after another (each line's predecessor), as PassageIndex links a dialogue
    prev = np.full(n, -1, dtype=np.int64)
    order = rng.permutation(n)
    for a, b in itertools.pairwise(order):
        if rng.random() < 0.7:
            prev[b] = a
    nxt = np.full(n, -1, dtype=np.int64)
    nxt[prev[prev >= 0]] = np.flatnonzero(prev >= 0)
    own = index.lengths()
    lengths = (own + 0.5 * np.where(prev >= 0, own[np.maximum(prev, 0)], 0.0)).astype(np.float32)
    tids = [p + 1 for p in picks]
    rows, scores = index.score([], ids=tids, prev=prev, next_=nxt, context_weight=0.5, lengths=lengths)
    want_rows, want_scores = _reference(index, tids, prev, 0.5, lengths)
    assert rows.dtype == np.int64 and scores.dtype == np.float32
    assert rows.tolist() == want_rows.tolist()
    assert scores.tobytes() == want_scores.tobytes()
