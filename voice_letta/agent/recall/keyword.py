"""Okapi BM25 over one agent's rows, in memory, with the agent's own statistics.

Why not FTS5's ``bm25()``: its document counts and average length are database-wide, so one agent's ranking
changed when other agents stored text (140 of 199 top-5 lists on LoCoMo), and scoring a common word walked every
agent's documents (114 ms for a word in a third of 100k passages). Here the statistics are the agent's own and a
query term costs numpy work proportional to the rows that contain it (~1 ms for 30k rows).

Context: a row may name the row said just before it (``prev``, e.g. the question a dialogue line answers). Its
*context document* is its own words plus ``context_weight`` times its predecessor's (a BM25F-style weighted field
sum), so "Where do you live now?" / "Denver, since May." is found by "where does she live". Rows keep full weight
for their own words; ``prev`` is -1 for rows without context.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

K1 = 1.2
B = 0.75


class KeywordIndex:
    """Rows are numbered 0.. in the order added. Not thread-safe for concurrent ``add``; reads are consistent as
    long as ``add`` is not running (the owner serializes them)."""

    def __init__(self) -> None:
        self._post_rows: dict[str, list[int]] = {}
        self._post_tfs: dict[str, list[int]] = {}
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._lengths: list[int] = []
        self.n = 0

    def add(self, docs: Sequence[Sequence[str]]) -> None:
        """Append rows, each given as its list of terms (repeats count)."""
        for terms in docs:
            row = self.n
            counts: dict[str, int] = {}
            for t in terms:
                counts[t] = counts.get(t, 0) + 1
            for t, c in counts.items():
                rows = self._post_rows.get(t)
                if rows is None:
                    self._post_rows[t] = [row]
                    self._post_tfs[t] = [c]
                else:
                    rows.append(row)
                    self._post_tfs[t].append(c)
                self._arrays.pop(t, None)
            self._lengths.append(len(terms))
            self.n += 1

    def lengths(self) -> np.ndarray:
        return np.asarray(self._lengths, dtype=np.float32)

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows ascending, term frequencies) of ``term``."""
        cached = self._arrays.get(term)
        if cached is None:
            rows = self._post_rows.get(term)
            if rows is None:
                cached = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
            else:
                cached = (np.asarray(rows, dtype=np.int64), np.asarray(self._post_tfs[term], dtype=np.float32))
            self._arrays[term] = cached
        return cached

    def doc_count(self, term: str) -> int:
        return len(self._post_rows.get(term, ()))

    def score(
        self, terms: Sequence[str], *, prev: np.ndarray | None = None, next_: np.ndarray | None = None,
        context_weight: float = 0.0, lengths: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """BM25 of every row that matches a term: (rows, scores), rows ascending.

        With ``context_weight`` > 0, ``prev``/``next_`` (int arrays of length n, -1 for none) add each row's
        predecessor's words; ``lengths`` are then the context lengths (own + weight x predecessor's).
        """
        n = self.n
        if n == 0 or not terms:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        own = self.lengths()
        lens = own if lengths is None else lengths
        avg = float(lens.mean()) or 1.0
        use_context = context_weight > 0 and prev is not None and next_ is not None
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        for term in dict.fromkeys(terms):
            rows, tfs = self.postings(term)
            if not len(rows):
                continue
            if use_context:
                assert prev is not None and next_ is not None
                followers = next_[rows]
                cand = np.union1d(rows, followers[followers >= 0])
                tf = _lookup(rows, tfs, cand)
                p = prev[cand]
                tf_prev = np.where(p >= 0, _lookup(rows, tfs, np.maximum(p, 0)), 0.0)
                tf = tf + context_weight * tf_prev
                cand = cand[tf > 0]
                tf = tf[tf > 0]
            else:
                cand, tf = rows, tfs
            df = len(cand)
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            norm = K1 * (1.0 - B + B * lens[cand] / avg)
            parts.append((cand, (idf * tf * (K1 + 1.0) / (tf + norm)).astype(np.float32)))
        if not parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if len(parts) == 1:
            return parts[0]
        all_rows = np.concatenate([r for r, _ in parts])
        all_scores = np.concatenate([s for _, s in parts])
        uniq, inverse = np.unique(all_rows, return_inverse=True)
        summed = np.zeros(len(uniq), dtype=np.float32)
        np.add.at(summed, inverse, all_scores)
        return uniq, summed

    def idf(self, term: str) -> float:
        df = self.doc_count(term)
        return math.log(1.0 + (self.n - df + 0.5) / (df + 0.5)) if self.n else 0.0


def _lookup(rows: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """values[rows == at] for each element of ``at`` (0 where absent); ``rows`` ascending."""
    pos = np.searchsorted(rows, at)
    pos = np.minimum(pos, len(rows) - 1)
    found = rows[pos] == at
    return np.where(found, values[pos], 0.0).astype(np.float32)
