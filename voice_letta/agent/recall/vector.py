"""The per-agent vector index: normalized float32 rows, exact scan or sign-bit pre-ranking past 50k rows."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

MIN_COSINE = 0.25  # below this a vector "hit" is noise (all-MiniLM-L6-v2 scale)
COARSE_MIN_ROWS = 50_000  # from this many rows a vector search ranks sign bits first (``VectorIndex``)
COARSE_CANDIDATES = 2000  # rows re-scored exactly after the sign-bit ranking (100x the 20 candidates kept)
STATS_SAMPLE_ROWS = 1024  # rows whose cosines estimate the mean and spread of a coarse search's scores


@dataclass(frozen=True, slots=True)
class SearchWindow:
    start_at: float | None
    end_at: float | None


def window_from_minutes(
    start_minutes_ago: int | None, end_minutes_ago: int | None, *, now: float
) -> SearchWindow:
    """``start_minutes_ago`` is the newer bound and ``end_minutes_ago`` the older; reversed bounds are swapped."""
    newer = None if start_minutes_ago is None else now - 60.0 * max(0, start_minutes_ago)
    older = None if end_minutes_ago is None else now - 60.0 * max(0, end_minutes_ago)
    if newer is not None and older is not None and older > newer:
        newer, older = older, newer
    return SearchWindow(start_at=older, end_at=newer)



def sign_words(vectors: np.ndarray) -> np.ndarray:
    """One bit per dimension (is it positive?), packed into uint64 words: shape (rows, ceil(dim / 64))."""
    packed = np.packbits(np.asarray(vectors) > 0, axis=1)
    pad = (-packed.shape[1]) % 8
    if pad:
        packed = np.pad(packed, ((0, 0), (0, pad)))
    words: np.ndarray = np.ascontiguousarray(packed).view(np.uint64)
    return words


@dataclass
class VectorIndex:
    """Normalized float32 rows of one agent and one embedding model; appended to in place.

    Up to ``coarse_min_rows`` rows a search is an exact scan of the float32 matrix. Past that the scan is bound
    by memory bandwidth (154 MB at 100k MiniLM rows: ~8 ms on two cores), so a search first ranks every row by
    the Hamming distance between sign bits (48 bytes a row at 384-d, ~1 ms for 100k), keeps the
    COARSE_CANDIDATES nearest, and re-scores those exactly: 2.0 ms instead of 7.2 on one core. Measured on 100k
    real MiniLM embeddings (bench/vector_recall.py), the top 5 are the exact scan's top 5 for held-out and
    paraphrased queries (agreement 1.000; 0.997 for noisy copies of indexed vectors).
    """

    model: str
    dim: int
    ids: list[str] = field(default_factory=list)
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    start_at: np.ndarray = field(default_factory=lambda: np.zeros(0))
    end_at: np.ndarray = field(default_factory=lambda: np.zeros(0))
    other_models: int = 0
    coarse_min_rows: int = COARSE_MIN_ROWS
    bits: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.uint64))  # (words, capacity)
    # Appends may run in threads (large indexes); searches read ``size`` rows, which are written before ``ids``.
    _append_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _sample: tuple[int, np.ndarray] | None = field(default=None, repr=False)  # ``sample``: (rows, their vectors)

    def __post_init__(self) -> None:
        if self.matrix.shape[1] != self.dim:
            self.matrix = np.zeros((0, self.dim), dtype=np.float32)
        self.bits = np.zeros(((self.dim + 63) // 64, 0), dtype=np.uint64)

    @property
    def size(self) -> int:
        return len(self.ids)

    def add(self, ids: Sequence[str], vectors: np.ndarray, start_at: Sequence[float], end_at: Sequence[float], *,
            adopt: bool = False) -> None:
        """Append rows. ``adopt``: the caller hands ``vectors`` over (it must not use the array again), so an
        empty index takes it as its matrix instead of copying it."""
        if not ids:
            return
        with self._append_lock:
            self._add(ids, vectors, start_at, end_at, adopt)

    def _add(self, ids: Sequence[str], vectors: np.ndarray, start_at: Sequence[float], end_at: Sequence[float],
             adopt: bool = False) -> None:
        n = self.size
        need = n + len(ids)
        if adopt and n == 0 and vectors.dtype == np.float32 and vectors.flags.c_contiguous \
                and vectors.shape == (need, self.dim):
            # A whole load: take the loader's matrix instead of copying 150 MB. It may be read-only (a view of the
            # bytes the store read): it is never written, as it is exactly full and the next append grows a copy.
            self.matrix = vectors
            self.bits = np.ascontiguousarray(sign_words(vectors).T)
            self.start_at = np.asarray(start_at, dtype=float).copy()
            self.end_at = np.asarray(end_at, dtype=float).copy()
            self.ids.extend(ids)
            return
        if self.matrix.shape[0] < need:  # grow geometrically so appends stay amortized O(1)
            cap = max(need, 2 * self.matrix.shape[0], 64)
            grown = np.zeros((cap, self.dim), dtype=np.float32)
            grown[:n] = self.matrix[:n]
            self.matrix = grown
            bits = np.zeros((self.bits.shape[0], cap), dtype=np.uint64)
            bits[:, :n] = self.bits[:, :n]
            self.bits = bits
            self.start_at = np.concatenate([self.start_at[:n], np.zeros(cap - n)])
            self.end_at = np.concatenate([self.end_at[:n], np.zeros(cap - n)])
        self.matrix[n:need] = vectors
        self.bits[:, n:need] = sign_words(self.matrix[n:need]).T
        self.start_at[n:need] = start_at
        self.end_at[n:need] = end_at
        self.ids.extend(ids)

    def sample(self, n: int) -> np.ndarray:
        """The vectors of STATS_SAMPLE_ROWS rows spread evenly over the first ``n``, whose cosines estimate a coarse
        search's mean (``ranking._dense``); kept until the index grows (rows are only ever appended), so a search
        does not gather them from all over the matrix again."""
        kept = self._sample
        if kept is None or kept[0] != n:
            rows = np.linspace(0, n - 1, min(STATS_SAMPLE_ROWS, n)).astype(np.int64)
            kept = self._sample = (n, self.matrix[rows])
        return kept[1]

    def search(self, queries: np.ndarray, window: SearchWindow, k: int) -> list[list[tuple[str, float]]]:
        """Top ``k`` (id, cosine) per query row, best first, inside the window and above MIN_COSINE."""
        n = self.size
        if n == 0:
            return [[] for _ in range(len(queries))]
        mask: np.ndarray | None = None
        if window.start_at is not None or window.end_at is not None:
            mask = np.ones(n, dtype=bool)
            if window.start_at is not None:
                mask &= self.end_at[:n] >= window.start_at
            if window.end_at is not None:
                mask &= self.start_at[:n] <= window.end_at
        if n >= self.coarse_min_rows:
            return [self._coarse_top(q, mask, k) for q in np.asarray(queries, dtype=np.float32)]
        scores = _scan(self.matrix[:n], queries)  # (n, q)
        if mask is not None:
            scores = np.where(mask[:, None], scores, np.float32(-1.0))
        out: list[list[tuple[str, float]]] = []
        for j in range(scores.shape[1]):
            col = scores[:, j]
            top = np.argpartition(-col, min(k, n - 1))[:k] if n > k else np.arange(n)
            top = top[np.argsort(-col[top])]
            out.append([(self.ids[i], float(col[i])) for i in top if col[i] >= MIN_COSINE])
        return out

    def _coarse_top(self, query: np.ndarray, mask: np.ndarray | None, k: int) -> list[tuple[str, float]]:
        candidates, scores = self.candidates(query, mask)
        best = np.argsort(-scores)[:k]
        return [(self.ids[candidates[i]], float(scores[i])) for i in best if scores[i] >= MIN_COSINE]

    def candidates(self, query: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The COARSE_CANDIDATES rows nearest by sign bits (inside ``mask``) and their exact cosines."""
        n = self.size
        words = sign_words(query[None, :])[0]
        distance = np.zeros(n, dtype=np.uint16)
        differ = np.empty(n, dtype=np.uint64)
        count = np.empty(n, dtype=np.uint8)
        for w in range(len(words)):  # word by word: contiguous rows, no (n, words) temporary to reduce
            np.bitwise_xor(self.bits[w, :n], words[w], out=differ)
            distance += np.bitwise_count(differ, out=count)
        if mask is not None:
            distance[~mask] = np.iinfo(np.uint16).max
        # The nearest COARSE_CANDIDATES without sorting n values: distances are small integers, so their
        # histogram gives the cut-off distance directly.
        want = min(COARSE_CANDIDATES, n)
        cutoff = int(np.searchsorted(np.cumsum(np.bincount(distance)), want))
        below = np.flatnonzero(distance < cutoff)
        at = np.flatnonzero(distance == cutoff)[: want - len(below)]
        candidates = np.concatenate([below, at])
        if mask is not None:
            candidates = candidates[mask[candidates]]
        scores: np.ndarray = self.matrix[candidates] @ query
        return candidates, scores


# A scan of a large matrix is bound by one core's memory bandwidth; two threads (numpy releases the GIL in
# BLAS) halve it: 100k x 384 took 16.5 ms on one thread and 8.6 ms on two on the 2-core dev machine.
_SCAN_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voice-letta-scan")
SPLIT_SCAN_ROWS = 40_000
PREFETCH_MIN_PASSAGES = 1_000


def _scan(matrix: np.ndarray, queries: np.ndarray) -> np.ndarray:
    n = matrix.shape[0]
    if n < SPLIT_SCAN_ROWS:
        out: np.ndarray = matrix @ queries.T
        return out
    half = n // 2
    first = _SCAN_POOL.submit(np.matmul, matrix[:half], queries.T)
    second = matrix[half:] @ queries.T
    return np.concatenate([first.result(), second])


