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
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from voice_letta.agent.recall import text as T

K1 = 1.2
B = 0.75
BULK_ROWS = 512  # a batch this large is merged into the sorted postings with numpy, not appended row by row
DELTA_FOLD_POSTINGS = 50_000  # appended postings folded into the sorted ones (or a quarter of those, if more)
_EMPTY_ROWS = np.zeros(0, dtype=np.int32)
_EMPTY_TFS = np.zeros(0, dtype=np.float32)
# A query term said by at most 1/SPARSE_SHARE of the rows is scored on its own rows and the rows after them (a sorted
# union, a few binary searches), not on arrays of all n rows (~0.5 ms a term at 100k rows whatever its document count).
SPARSE_SHARE = 8


@dataclass(frozen=True, slots=True)
class TermRows:
    """The term ids of several rows, concatenated: row i is ``flat[offsets[i]:offsets[i + 1]]``."""

    flat: np.ndarray  # uint64
    lengths: np.ndarray  # int64, one per row

    @classmethod
    def of(cls, docs: Sequence[np.ndarray]) -> TermRows:
        lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
        flat = np.concatenate([np.asarray(d, dtype=np.uint64) for d in docs]) if docs else np.zeros(0, np.uint64)
        return cls(flat, lengths)

    def __len__(self) -> int:
        return len(self.lengths)

    def row(self, i: int) -> np.ndarray:
        start = int(self.lengths[:i].sum())
        return self.flat[start:start + int(self.lengths[i])]

    def take(self, rows: Sequence[int]) -> TermRows:
        if len(rows) == len(self.lengths):
            return self
        offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        return TermRows.of([self.flat[offsets[i]:offsets[i + 1]] for i in rows])


class KeywordIndex:
    """Rows are numbered 0.. in the order added; terms are keyed by their stable ids (``text.term_id``).

    Postings live in two parts: a *base* in compressed sparse form (term ids sorted, each term's rows ascending
    with their term frequencies: one numpy build for a whole load, ~0.5 s for 2.5M postings) and a small *delta*
    of rows appended one by one since (dicts of lists), folded into the base when it grows. Not thread-safe for
    concurrent ``add``; reads are consistent as long as ``add`` is not running (the owner serializes them)."""

    def __init__(self) -> None:
        self._keys = np.zeros(0, dtype=np.uint64)  # distinct term ids of the base, ascending
        self._starts = np.zeros(1, dtype=np.int64)  # term i's postings are [_starts[i], _starts[i + 1])
        self._rows = _EMPTY_ROWS
        self._tfs = _EMPTY_TFS
        self._delta_rows: dict[int, list[int]] = {}
        self._delta_tfs: dict[int, list[int]] = {}
        self._delta_postings = 0
        self._arrays: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._lengths = np.zeros(0, dtype=np.float32)
        self.n = 0

    def add(self, docs: Sequence[Sequence[str]]) -> None:
        """Append rows, each given as its list of terms (repeats count)."""
        self.add_rows(TermRows.of([np.fromiter((T.term_id(t) for t in d), dtype=np.uint64, count=len(d))
                                   for d in docs]))

    def add_rows(self, docs: TermRows) -> None:
        """Append rows given by the ids of their terms (``text.term_ids``; repeats count)."""
        k = len(docs)
        if not k:
            return
        first = self.n
        self._lengths = np.concatenate([self._lengths, docs.lengths.astype(np.float32)])
        self.n += k
        if k >= BULK_ROWS:
            rows = np.repeat(np.arange(first, first + k, dtype=np.int32), docs.lengths)
            self._rebuild(docs.flat, rows)
            return
        post_rows, post_tfs = self._delta_rows, self._delta_tfs
        ends = np.cumsum(docs.lengths).tolist()
        flat = docs.flat.tolist()
        start = 0
        for row, end in enumerate(ends, start=first):
            for t, c in Counter(flat[start:end]).items():
                self._arrays.pop(t, None)
                if t in post_rows:
                    post_rows[t].append(row)
                    post_tfs[t].append(c)
                else:
                    post_rows[t] = [row]
                    post_tfs[t] = [c]
                self._delta_postings += 1
            start = end
        if self._delta_postings > max(DELTA_FOLD_POSTINGS, len(self._rows) // 4):
            self._rebuild(np.zeros(0, dtype=np.uint64), _EMPTY_ROWS)

    def _rebuild(self, flat: np.ndarray, rows: np.ndarray) -> None:
        """Fold the delta and the new ``(term id, row)`` occurrences (rows after every existing one, ascending)
        into the base. A stable sort by term id keeps each term's rows ascending: the base's rows come first, then
        the delta's, then the new ones."""
        counts = np.diff(self._starts)
        delta_keys = np.fromiter(self._delta_rows, dtype=np.uint64, count=len(self._delta_rows))
        delta_counts = np.fromiter((len(v) for v in self._delta_rows.values()), dtype=np.int64,
                                   count=len(self._delta_rows))
        keys = np.concatenate([np.repeat(self._keys, counts), np.repeat(delta_keys, delta_counts), flat])
        all_rows = np.concatenate([
            self._rows, np.fromiter((r for v in self._delta_rows.values() for r in v), dtype=np.int32,
                                    count=self._delta_postings), rows.astype(np.int32)])
        tfs = np.concatenate([
            self._tfs, np.fromiter((c for v in self._delta_tfs.values() for c in v), dtype=np.float32,
                                   count=self._delta_postings), np.ones(len(flat), dtype=np.float32)])
        order = np.argsort(keys, kind="stable")
        keys, all_rows, tfs = keys[order], all_rows[order], tfs[order]
        if len(keys):  # repeats of a term in one row become one posting with its count
            run = np.ones(len(keys), dtype=bool)
            run[1:] = (keys[1:] != keys[:-1]) | (all_rows[1:] != all_rows[:-1])
            at = np.flatnonzero(run)
            tfs = np.add.reduceat(tfs, at).astype(np.float32)
            keys, all_rows = keys[at], all_rows[at]
        new_term = np.ones(len(keys), dtype=bool)
        new_term[1:] = keys[1:] != keys[:-1]
        heads = np.flatnonzero(new_term)
        self._keys = keys[heads]
        self._starts = np.append(heads, len(keys)).astype(np.int64)
        self._rows, self._tfs = np.ascontiguousarray(all_rows), np.ascontiguousarray(tfs)
        self._delta_rows, self._delta_tfs, self._delta_postings = {}, {}, 0
        self._arrays.clear()

    def lengths(self) -> np.ndarray:
        return self._lengths

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows ascending, term frequencies) of ``term``."""
        return self.postings_of(T.term_id(term))

    def postings_of(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        cached = self._arrays.get(tid)
        if cached is None:
            i = int(np.searchsorted(self._keys, np.uint64(tid)))
            if i < len(self._keys) and int(self._keys[i]) == tid:
                lo, hi = int(self._starts[i]), int(self._starts[i + 1])
                rows, tfs = self._rows[lo:hi], self._tfs[lo:hi]
            else:
                rows, tfs = _EMPTY_ROWS, _EMPTY_TFS
            extra = self._delta_rows.get(tid)
            if extra:
                rows = np.concatenate([rows, np.asarray(extra, dtype=np.int32)])
                tfs = np.concatenate([tfs, np.asarray(self._delta_tfs[tid], dtype=np.float32)])
            if len(self._arrays) >= 4096:
                self._arrays.clear()
            cached = self._arrays[tid] = (rows, tfs)
        return cached

    def known(self, tids: np.ndarray) -> np.ndarray:
        """Which of ``tids`` (uint64) have postings, as one bool mask: a vector search of the base's keys and the
        delta's dict, without filling the postings cache (a question's inflected forms: thousands of ids)."""
        at = np.searchsorted(self._keys, tids)
        found = self._keys[np.minimum(at, max(len(self._keys) - 1, 0))] == tids if len(self._keys) else \
            np.zeros(len(tids), dtype=bool)
        if self._delta_rows:
            found |= np.fromiter((int(t) in self._delta_rows for t in tids), dtype=bool, count=len(tids))
        return found

    def doc_count(self, term: str) -> int:
        return len(self.postings(term)[0])

    def score(
        self, terms: Sequence[str], *, prev: np.ndarray | None = None, next_: np.ndarray | None = None,
        context_weight: float = 0.0, lengths: np.ndarray | None = None, ids: Sequence[int] = (),
    ) -> tuple[np.ndarray, np.ndarray]:
        """BM25 of every row that matches a term: (rows, scores), rows ascending.

        With ``context_weight`` > 0, ``prev``/``next_`` (int arrays of length n, -1 for none; ``next_`` the inverse
        of ``prev``, as ``PassageIndex`` links them) add each row's predecessor's words; ``lengths`` are then the
        context lengths (own + weight x predecessor's). Each term costs numpy work on its own rows and the rows said
        after them (``_in_context``), plus, for one said by more than 1/SPARSE_SHARE of the rows, a few n-sized
        passes. ``ids``: more terms, given by their ids.
        """
        n = self.n
        if n == 0 or not (terms or len(ids)):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        lens = self.lengths() if lengths is None else lengths
        avg = float(lens.mean()) or 1.0
        use_context = context_weight > 0 and prev is not None and next_ is not None
        acc: np.ndarray | None = None
        found: list[np.ndarray] = []  # each term's rows, ascending
        for tid in dict.fromkeys([T.term_id(t) for t in terms] + [int(i) for i in ids]):
            rows, tfs = self.postings_of(tid)
            if not len(rows):
                continue
            if use_context:
                assert next_ is not None
                cand, tf = _in_context(rows, tfs, next_, context_weight, n)
            else:
                cand, tf = rows, tfs
            df = len(cand)
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            if acc is None:
                acc = np.zeros(n, dtype=np.float32)
            norm = (K1 * (1.0 - B + B * lens[cand] / avg)).astype(np.float32)
            acc[cand] += (idf * tf * (K1 + 1.0) / (tf + norm)).astype(np.float32)
            found.append(cand)
        if acc is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        # every term adds a positive score to each of its rows: the rows scored are the union of theirs
        if len(found) == 1:
            hit = found[0].astype(np.int64)
        elif sum(map(len, found)) * SPARSE_SHARE <= n:
            hit = np.unique(np.concatenate(found)).astype(np.int64)
        else:
            hit = np.flatnonzero(acc)
        return hit, acc[hit]

    def idf(self, term: str) -> float:
        return self.idf_of(T.term_id(term))

    def idf_of(self, tid: int) -> float:
        df = len(self.postings_of(tid)[0])
        return math.log(1.0 + (self.n - df + 0.5) / (df + 0.5)) if self.n else 0.0


def _in_context(rows: np.ndarray, tfs: np.ndarray, next_: np.ndarray, weight: float, n: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """A term's context frequencies on the rows that have any (ascending): its own ``rows`` (ascending, frequencies
    ``tfs``) and the rows said just after them (``next_``), each its own frequency plus ``weight`` x its
    predecessor's. A term in more than 1/SPARSE_SHARE of the n rows is summed on an n-sized array, a rarer one on
    its rows only: the same float32 sums either way."""
    after = next_[rows]
    linked = after >= 0
    after = after[linked]
    said_before = weight * tfs[linked]
    if len(rows) * SPARSE_SHARE > n:
        dense = np.zeros(n, dtype=np.float32)
        dense[rows] = tfs
        dense[after] += said_before  # next_ is one-to-one: each row has one predecessor at most
        cand = np.flatnonzero(dense)
        return cand, dense[cand]
    cand = np.union1d(rows, after)
    tf = np.zeros(len(cand), dtype=np.float32)
    tf[np.searchsorted(cand, rows)] = tfs
    tf[np.searchsorted(cand, after)] += said_before
    return cand, tf
