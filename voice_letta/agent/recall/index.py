"""One agent's passages in memory: vectors, BM25 postings, when each was said and who said it.

``PassageIndex.rank`` fuses the two halves by *score*, not by rank: each query's cosines and BM25 scores are
turned into z-scores over the agent's passages and added, and a passage keeps its best query (the utterance and
the model's keyword queries are alternatives, not votes). Reciprocal rank fusion, used before, threw the scores
away: a short line matched weakly by both lists outranked the one that answered, and 190 of LoCoMo's 699 top-5
misses were in BM25's own top 5.

Context: dialogue lines said in sequence (one "speaker: words" line per passage, each later than the one before,
within ``CONTEXT_GAP_S``) are linked to the line before them, whose words count at ``CONTEXT_WEIGHT`` in BM25, so
an answer is found by the words of the question it answers.

Speakers: when a query names one of the agent's known speakers ("What did Caroline research?", or "I"/"my" when
the agent's lines are labelled "user"), passages said by that speaker get ``SPEAKER_BOOST``.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.keyword import KeywordIndex, TermRows
from voice_letta.agent.recall.quantity import asks_for_a_quantity, has_numbers
from voice_letta.agent.recall.roles import mismatched, query_roles
from voice_letta.agent.recall.supersede import current_first
from voice_letta.agent.recall.updates import (
    cues,
    implicit_updates,
    newest_first,
)
from voice_letta.agent.recall.vector import (
    COARSE_MIN_ROWS,
    MIN_COSINE,
    STATS_SAMPLE_ROWS,
    SearchWindow,
    VectorIndex,
)

CONTEXT_GAP_S = 1800.0
CONTEXT_WEIGHT = 0.5
SPEAKER_BOOST = 0.5  # in z units
DATE_BOOST = 1.0  # in z units, for passages said in a range the question dates ("on 3 October 2023")
DENSE_WEIGHT = 1.0
KEYWORD_WEIGHT = 1.0
CANDIDATES = 50
# Neighbours: a dialogue line also gets NEIGHBOUR_WEIGHT x the better fused score of the lines said just before and
# after it (when positive). The answer to a question is often the line after the one that matches its words ("What
# city did Tim suggest?" matches John's "…a team trip next month, where to?"; Tim's answer names only the city).
# LoCoMo (bench/locomo.py) any@5 0.705 -> 0.727, any@10 0.799 -> 0.812; the recall set is unchanged.
NEIGHBOUR_WEIGHT = 0.3
FEEDBACK_ROWS = 5  # attribution: the best results whose words describe the question's topic
FEEDBACK_TERMS = 10
# The DENSE_FLOOR_TOP passages closest in meaning stay candidates down to LOW_COSINE, below MIN_COSINE: a question
# that shares no word with its answer and is only loosely close to it ("Which language am I studying?" / "I have my
# Japanese lesson tonight") must not come back empty. Confidence stays low for them.
DENSE_FLOOR_TOP = 5
LOW_COSINE = 0.1


@dataclass(frozen=True, slots=True)
class Ranked:
    """One passage of a ranking, with what confidence is computed from."""

    row: int
    passage_id: str
    score: float  # fused z-score (higher is better; comparable within one search)
    cosine: float  # best query's cosine (0 when the passage has no vector of this model)
    coverage: float  # share of the best query's term weight (IDF) found in the passage or its context
    speaker_match: bool
    has_vector: bool  # the passage has a vector of the query's model (else ``cosine`` means nothing)
    previous: tuple[str, ...] = ()  # ids of older near-duplicates this passage replaces, newest first
    other_speaker: bool = False  # the query names one speaker and this line was said by someone else
    # With a named speaker: how much better (z units) the best of their own lines matches than the best line of
    # anyone else; negative when the question's topic is someone else's ("What did Ana quit?" when Ben quit).
    attribution: float = 0.0


class PassageIndex:
    """Rows in insertion order. ``add`` may run in a thread while searches read (guarded by a lock)."""

    def __init__(self, model: str, dim: int, *, coarse_min_rows: int = COARSE_MIN_ROWS) -> None:
        self.vectors = VectorIndex(model, dim, coarse_min_rows=coarse_min_rows)
        self.keywords = KeywordIndex()
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}
        self.start_at = np.zeros(0)
        self.end_at = np.zeros(0)
        self.has_vector = np.zeros(0, dtype=bool)
        self.dialogue = np.zeros(0, dtype=bool)
        self.to_listener = np.zeros(0, dtype=bool)  # about the one spoken to ("your knee"): T.addresses_listener
        self.has_number = np.zeros(0, dtype=bool)  # says a number (recall/quantity.py)
        self.correction = np.zeros(0, dtype=bool)  # starts with a correction ("actually make that thursday")
        self.update_cue = np.zeros(0, dtype=bool)  # says something changed ("now", "moved", "down to"; updates.py)
        self.strong_cue = np.zeros(0, dtype=bool)  # ... with more than a bare "now"
        self.speakers: list[tuple[str, ...]] = []
        self.known_speakers: set[str] = set()
        self._speaker_rows: dict[str, np.ndarray] = {}  # speaker -> bool mask of their rows (built on demand)
        self.successor = np.zeros(0, dtype=np.int64)  # the passage that superseded each one, or -1
        # each row's term ids, in the chunks they were added in: (first row, flat ids, offsets)
        self._row_terms: list[tuple[int, np.ndarray, np.ndarray]] = []
        self._waiting: dict[str, list[int]] = {}  # successor id not indexed yet -> rows it superseded
        self.prev = np.zeros(0, dtype=np.int64)
        self.next = np.zeros(0, dtype=np.int64)
        self.context_lengths = np.zeros(0, dtype=np.float32)
        self.other_models = 0
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return self.vectors.model

    @property
    def dim(self) -> int:
        return self.vectors.dim

    @property
    def size(self) -> int:
        return len(self.ids)

    def add(self, ids: Sequence[str], texts: Sequence[str], synopses: Sequence[str], start_at: Sequence[float],
            end_at: Sequence[float], vectors: np.ndarray, has_vector: Sequence[bool],
            terms: TermRows | None = None, *, adopt: bool = False,
            superseded_by: Sequence[str | None] | None = None) -> None:
        """Append passages (their lines and synopses); rows without a vector of this model get zeros.
        ``terms``: the passages' stored terms (``text.decode_terms``), else they are computed here. ``adopt``: the
        caller hands ``vectors`` over (``VectorIndex.add``). ``superseded_by``: each passage's successor id."""
        if not ids:
            return
        fresh = [i for i, pid in enumerate(ids) if pid not in self.row_of]
        if not fresh:
            return
        if len(fresh) < len(ids):  # some already indexed (a change-feed append racing a load): keep the others
            pick = np.asarray(fresh)
            self.add([ids[i] for i in fresh], [texts[i] for i in fresh], [synopses[i] for i in fresh],
                     [start_at[i] for i in fresh], [end_at[i] for i in fresh], np.asarray(vectors)[pick],
                     [has_vector[i] for i in fresh], None if terms is None else terms.take(fresh),
                     superseded_by=None if superseded_by is None else [superseded_by[i] for i in fresh])
            return
        if terms is None:
            terms = TermRows.of([np.asarray(T.term_ids(T.passage_document(t, s)), dtype=np.uint64)
                                 for t, s in zip(texts, synopses, strict=True)])
        speakers = [T.speakers(t) for t in texts]
        dialogue = np.fromiter((T.is_dialogue_line(t) for t in texts), dtype=bool, count=len(texts))
        correction, update_cue, strong_cue = cues(texts)
        has_number = has_numbers([f"{s}\n{t}" for t, s in zip(texts, synopses, strict=True)])
        to_listener = np.fromiter((T.addresses_listener(t) for t in texts), dtype=bool, count=len(texts))
        with self._lock:
            base = len(self.ids)
            self.vectors.add(ids, np.asarray(vectors, dtype=np.float32), start_at, end_at, adopt=adopt)
            self.keywords.add_rows(terms)
            self._row_terms.append((base, terms.flat, np.concatenate([[0], np.cumsum(terms.lengths)])))
            self.row_of.update(zip(ids, range(base, base + len(ids)), strict=True))
            self.ids.extend(ids)
            self.speakers.extend(speakers)
            self.known_speakers.update(s for spk in set(speakers) for s in spk)
            self.start_at = np.concatenate([self.start_at, np.asarray(start_at, dtype=float)])
            self.end_at = np.concatenate([self.end_at, np.asarray(end_at, dtype=float)])
            self.has_vector = np.concatenate([self.has_vector, np.asarray(has_vector, dtype=bool)])
            self.dialogue = np.concatenate([self.dialogue, dialogue])
            self.correction = np.concatenate([self.correction, correction])
            self.has_number = np.concatenate([self.has_number, has_number])
            self.to_listener = np.concatenate([self.to_listener, to_listener])
            self.update_cue = np.concatenate([self.update_cue, update_cue])
            self.strong_cue = np.concatenate([self.strong_cue, strong_cue])
            self.other_models += int(len(has_vector) - np.count_nonzero(np.asarray(has_vector, dtype=bool)))
            self._speaker_rows.clear()
            self.successor = np.concatenate([self.successor, np.full(len(ids), -1, dtype=np.int64)])
            for k, pid in enumerate(ids):  # passages this one superseded before it was indexed
                for old in self._waiting.pop(pid, ()):
                    self.successor[old] = base + k
            for k, new in enumerate(superseded_by or ()):
                if new is not None:
                    self._set_successor(base + k, new)
            self._link()

    def supersede(self, old_ids: Sequence[str], new_id: str) -> None:
        """Passages ``old_ids`` were superseded by ``new_id`` (which may not be indexed yet)."""
        with self._lock:
            for pid in old_ids:
                row = self.row_of.get(pid)
                if row is not None and self.successor[row] < 0:
                    self._set_successor(row, new_id)

    def _set_successor(self, row: int, new_id: str) -> None:
        new = self.row_of.get(new_id)
        if new is None:
            self._waiting.setdefault(new_id, []).append(row)
        elif new != row:
            self.successor[row] = new

    def _link(self) -> None:
        """Link each dialogue line to the one said just before it (same conversation), by time."""
        n = len(self.ids)
        prev = np.full(n, -1, dtype=np.int64)
        order = np.argsort(self.start_at, kind="stable")
        cand = order[self.dialogue[order]]
        if len(cand) > 1:
            before, after = cand[:-1], cand[1:]
            ok = (self.start_at[after] > self.start_at[before]) & (
                self.start_at[after] - self.end_at[before] <= CONTEXT_GAP_S)
            prev[after[ok]] = before[ok]
        nxt = np.full(n, -1, dtype=np.int64)
        has = prev >= 0
        nxt[prev[has]] = np.flatnonzero(has)
        self.prev, self.next = prev, nxt
        own = self.keywords.lengths()
        self.context_lengths = (own + CONTEXT_WEIGHT * np.where(prev >= 0, own[np.maximum(prev, 0)], 0.0)
                                ).astype(np.float32)

    # -- ranking ---------------------------------------------------------------------------------------------
    def rank(self, query_vectors: np.ndarray | None, queries: Sequence[str], window: SearchWindow, *,
             limit: int, speaker: str | None = None, dated: Sequence[tuple[float, float]] = (),
             min_cosine: float = MIN_COSINE) -> list[Ranked]:
        """The best ``limit`` passages for these queries (best first), inside ``window``; passages said inside a
        ``dated`` range get DATE_BOOST."""
        with self._lock:
            return self._rank(query_vectors, queries, window, limit, speaker, dated, min_cosine)

    def _rank(self, query_vectors: np.ndarray | None, queries: Sequence[str], window: SearchWindow, limit: int,
              speaker: str | None, dated: Sequence[tuple[float, float]] = (), min_cosine: float = MIN_COSINE
              ) -> list[Ranked]:
        n = self.size
        if n == 0 or limit <= 0:
            return []
        mask = self._window_mask(window)
        fused = np.full(n, -np.inf, dtype=np.float32)
        best_cos = np.zeros(n, dtype=np.float32)
        best_query = np.zeros(n, dtype=np.int64)
        dense = self._dense(query_vectors) if query_vectors is not None else None
        term_lists = [T.query_terms(q) for q in queries]
        matched = np.zeros(n, dtype=bool)  # found by a keyword, or close enough in meaning (MIN_COSINE)
        speaker = self.named_speaker(queries[0] if queries else "", speaker)
        explicit = speaker is not None and speaker in T.words(queries[0])
        for j, terms in enumerate(term_lists):
            score = np.zeros(n, dtype=np.float32)
            if dense is not None and j < dense.shape[1]:
                col = dense[:, j]
                valid = col[self.has_vector]
                if len(valid) > 1:
                    mu, sd = float(valid.mean()), float(valid.std()) or 1.0
                    score += DENSE_WEIGHT * np.where(self.has_vector, (col - mu) / sd, 0.0).astype(np.float32)
                better = col > best_cos
                best_cos = np.where(better, col, best_cos)
                matched |= self.has_vector & (col >= min_cosine)
                nearest = np.argpartition(-col, min(DENSE_FLOOR_TOP, n) - 1)[:DENSE_FLOOR_TOP]
                matched[nearest[self.has_vector[nearest] & (col[nearest] >= LOW_COSINE)]] = True
            rows, bm = self.keywords.score(terms, prev=self.prev, next_=self.next, context_weight=CONTEXT_WEIGHT,
                                           lengths=self.context_lengths)
            if len(rows):
                mu = float(bm.sum()) / n
                sd = math.sqrt(max(float((bm * bm).sum()) / n - mu * mu, 1e-12))
                kw = np.full(n, -mu / sd, dtype=np.float32)
                kw[rows] = (bm - mu) / sd
                score += KEYWORD_WEIGHT * kw
                matched[rows] = True
            better = score > fused
            best_query = np.where(better, j, best_query)
            fused = np.where(better, score, fused)
        if NEIGHBOUR_WEIGHT:
            fused = self._with_neighbours(fused)
        matches = np.zeros(n, dtype=bool)
        others = np.zeros(n, dtype=bool)
        if speaker is not None:
            matches = self._said_by(speaker)
            others = self.dialogue & ~matches
            fused = (fused + SPEAKER_BOOST * matches).astype(np.float32)
        if dated:
            inside = np.zeros(n, dtype=bool)
            for lo, hi in dated:
                inside |= (self.end_at >= lo) & (self.start_at <= hi)
            fused = (fused + DATE_BOOST * inside).astype(np.float32)
        keep = matched if mask is None else matched & mask
        fused = np.where(keep, fused, np.float32(-np.inf))
        k = min(max(limit * 4, 20), int(np.isfinite(fused).sum()))
        if k <= 0:
            return []
        top = np.argpartition(-fused, k - 1)[:k] if n > k else np.arange(n)
        top = top[np.argsort(-fused[top], kind="stable")]
        attribution = 0.0
        # A line the person a question names says *to* someone ("careful with your knee") is about that someone: it
        # counts as another speaker's for attribution and for the result itself. LoCoMo (bench/locomo.py) abstention
        # AUC 0.725 -> see docs/benchmarks.md; the ranking is unchanged. Not for the agent's own user ("I", "my"): what
        # they say to the assistant ("did you see the game?") is still about them.
        told = matches & self.to_listener[:n] if explicit else np.zeros(n, dtype=bool)
        if explicit and others.any() and matches.any():
            attribution = self._attribution(term_lists[0], top[:FEEDBACK_ROWS], matches & ~told, others | told)
        previous: dict[int, list[int]] = {}
        if term_lists and T.asks_about_the_past(queries[0]):
            order = [int(r) for r in top]
        else:
            order, previous = newest_first(self, top, best_cos)
        successor = self.successor
        if not (term_lists and T.asks_about_the_past(queries[0])):
            paired = set(previous) | {o for olds in previous.values() for o in olds}
            links = implicit_updates(self, order, paired)
            if links:  # an update said in passing counts as a supersession for this search (updates.py)
                successor = successor.copy()
                for old, new in links.items():
                    if successor[old] < 0:
                        successor[old] = new
        took: dict[int, int] = {}
        if (successor >= 0).any():
            order, previous, took = current_first(order, previous, successor, mask)
        # A result that names no one of the role the question asks about ("my wife's passport") is about someone else
        # (recall/roles.py): flagged, its rank unchanged (placing such results last cost LoCoMo 0.003 of any@5).
        elsewhere = mismatched(self, order[:limit], query_roles(term_lists[0])) if term_lists else set()
        if queries and asks_for_a_quantity(queries[0]):  # "how much did the lodge cost?" and no number said
            elsewhere |= {r for r in order[:limit]
                          if not self.has_number[r] and not (self.prev[r] >= 0 and self.has_number[self.prev[r]])}
        out = []
        for r in order[:limit]:
            terms = term_lists[int(best_query[r])] if term_lists else []
            value, cos, cov = float(fused[r]), float(best_cos[r]), self._coverage(int(r), terms)
            if r in took:  # a successor takes the rank of what it replaced, and at least its confidence
                o = took[r]
                o_terms = term_lists[int(best_query[o])] if term_lists else []
                value, cos = max(value, float(fused[o])), max(cos, float(best_cos[o]))
                cov = max(cov, self._coverage(o, o_terms))
            out.append(Ranked(int(r), self.ids[r], value, cos, cov, bool(matches[r]),
                              bool(self.has_vector[r]) and query_vectors is not None,
                              tuple(self.ids[p] for p in previous.get(int(r), ())),
                              bool(others[r] or told[r] or r in elsewhere), attribution))
        return out

    def _attribution(self, query_terms: Sequence[str], feedback: np.ndarray, mine: np.ndarray, others: np.ndarray
                     ) -> float:
        """How much better (z units) the named speaker's best line matches the question's topic than the best line
        of anyone else, by their own words (BM25 without context: with context an answer inherits the other
        speaker's question; without cosine: a line about the same topic is close in meaning whoever said it).

        The topic is the question's terms plus the FEEDBACK_TERMS most specific words (summed IDF) of its best
        FEEDBACK_ROWS results, the speakers' names left out (pseudo-relevance feedback): "What did Melanie
        research?" shares no topic word with anyone's lines, but its best results say "adoption agencies"; when
        those words are Caroline's and not Melanie's, the question is about the wrong person. The names are left
        out of the question's words too: a name matches every line its speaker said. LoCoMo (bench/locomo.py):
        abstention AUC of the top result's confidence 0.646 with the question's words alone, 0.73 with the feedback
        words; the recall set's two-person questions are all still answered, and all still abstained when they
        name the other person."""
        names = {tid for name in self.known_speakers for tid in T.term_ids(name)}
        topic = [t for t in query_terms if T.term_id(t) not in names]  # a name matches all of its own lines
        skip = names | {T.term_id(t) for t in topic}
        weight: dict[int, float] = {}
        for r in feedback.tolist():
            for tid in set(self.terms_of(int(r)).tolist()):
                if tid not in skip:
                    weight[tid] = weight.get(tid, 0.0) + self.keywords.idf_of(tid)
        extra = sorted(weight, key=lambda t: -weight[t])[:FEEDBACK_TERMS]
        rows, bm = self.keywords.score(topic, ids=extra)
        if not len(rows):
            return 0.0
        n = self.size
        mu = float(bm.sum()) / n
        sd = math.sqrt(max(float((bm * bm).sum()) / n - mu * mu, 1e-12))
        own = np.full(n, -mu / sd, dtype=np.float32)
        own[rows] = (bm - mu) / sd
        return float(own[mine].max()) - float(own[others].max())

    def terms_of(self, row: int) -> np.ndarray:
        """The term ids of one row (as indexed)."""
        i = bisect.bisect_right([b for b, _, _ in self._row_terms], row) - 1
        base, flat, offsets = self._row_terms[i]
        k = row - base
        terms: np.ndarray = flat[int(offsets[k]):int(offsets[k + 1])]
        return terms

    def _with_neighbours(self, fused: np.ndarray) -> np.ndarray:
        """``fused`` plus NEIGHBOUR_WEIGHT x the better positive score of each line's neighbours (before, after)."""
        nb = np.zeros_like(fused)
        for link in (self.prev, self.next):
            has = link >= 0
            nb = np.maximum(nb, np.where(has, fused[np.maximum(link, 0)], np.float32(0.0)))
        out: np.ndarray = (fused + NEIGHBOUR_WEIGHT * nb).astype(np.float32)
        return out

    def context_of(self, passage_id: str) -> str | None:
        """The id of the line said just before this one (what it answers), if the passage is linked to one."""
        row = self.row_of.get(passage_id)
        if row is None or row >= len(self.prev) or self.prev[row] < 0:
            return None
        return self.ids[int(self.prev[row])]

    def _said_by(self, speaker: str) -> np.ndarray:
        mask = self._speaker_rows.get(speaker)
        if mask is None or len(mask) != self.size:
            mask = self._speaker_rows[speaker] = np.fromiter((speaker in s for s in self.speakers), dtype=bool,
                                                             count=self.size)
        return mask

    def about_the_user(self, row: int) -> bool:
        """What the agent's user said or a note about them: lines labelled "user", or no speaker labels at all.
        A transcript between named people (an imported chat) is history, not the user's current state."""
        spk = self.speakers[row]
        return not spk or "user" in spk

    def in_window(self, window: SearchWindow, limit: int) -> list[str]:
        """Ids of the passages said inside ``window``, oldest first, at most ``limit`` (the earliest ones)."""
        with self._lock:
            mask = self._window_mask(window)
            rows = np.flatnonzero(mask) if mask is not None else np.arange(self.size)
            rows = rows[np.argsort(self.start_at[rows], kind="stable")][:limit]
            return [self.ids[r] for r in rows]

    def named_speaker(self, query: str, default: str | None) -> str | None:
        """The one known speaker a query names ("What did Caroline say…"), else ``default`` when it is a known
        speaker (e.g. "user" for a first-person question), else None."""
        named = {w for w in T.words(query) if w in self.known_speakers}
        if len(named) == 1:
            return named.pop()
        if not named and default in self.known_speakers:
            return default
        return None

    def _dense(self, query_vectors: np.ndarray) -> np.ndarray:
        """(n, q) cosines: exact below the coarse threshold; past it, the sign-bit candidates are scored exactly
        and every other row gets the mean of a fixed sample (it cannot be among the best anyway)."""
        n = self.size
        q = np.asarray(query_vectors, dtype=np.float32)
        if n < self.vectors.coarse_min_rows:
            out: np.ndarray = self.vectors.matrix[:n] @ q.T
            return out
        sample = np.linspace(0, n - 1, min(STATS_SAMPLE_ROWS, n)).astype(np.int64)
        base = (self.vectors.matrix[sample] @ q.T).mean(axis=0)
        out = np.tile(base.astype(np.float32), (n, 1))
        for j in range(q.shape[0]):
            rows, scores = self.vectors.candidates(q[j], None)
            out[rows, j] = scores
        return out

    def _coverage(self, row: int, terms: Sequence[str]) -> float:
        """Share of the query's IDF weight whose terms occur in the passage or in the line before it."""
        total = found = 0.0
        p = int(self.prev[row])
        for t in terms:
            w = self.keywords.idf(t)
            if w <= 0:
                continue
            total += w
            rows, _ = self.keywords.postings(t)
            if len(rows) and (_contains(rows, row) or (p >= 0 and _contains(rows, p))):
                found += w
        return found / total if total else 0.0

    def _window_mask(self, window: SearchWindow) -> np.ndarray | None:
        if window.start_at is None and window.end_at is None:
            return None
        mask = np.ones(self.size, dtype=bool)
        if window.start_at is not None:
            mask &= self.end_at >= window.start_at
        if window.end_at is not None:
            mask &= self.start_at <= window.end_at
        return mask


def _contains(rows: np.ndarray, row: int) -> bool:
    i = int(np.searchsorted(rows, row))
    return i < len(rows) and int(rows[i]) == row
