"""Ranking one agent's passages (``PassageIndex.rank``): fusion, neighbours, speakers, dates, updates.

The two halves are fused by *score*, not by rank: each query's cosines and BM25 scores are turned into z-scores
over the agent's passages and added, and a passage keeps its best query (the utterance and the model's keyword
queries are alternatives, not votes). Reciprocal rank fusion, used before, threw the scores away: a short line
matched weakly by both lists outranked the one that answered, and 190 of LoCoMo's 699 top-5 misses were in BM25's
own top 5.

Speakers: when a query names one of the agent's known speakers ("What did Caroline research?", or "I"/"my" when
the agent's lines are labelled "user"), passages said by that speaker get ``SPEAKER_BOOST``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.confidence import lead, style_baseline
from voice_letta.agent.recall.cross import with_cross
from voice_letta.agent.recall.identifiers import other_attribute, other_identifier
from voice_letta.agent.recall.monthdays import other_day
from voice_letta.agent.recall.opposites import opposite_side, other_leg
from voice_letta.agent.recall.places import other_place
from voice_letta.agent.recall.placing import place_versions
from voice_letta.agent.recall.quantity import CLOCK, DAY, STRICT_KINDS, asked_kind
from voice_letta.agent.recall.questions import about_asking, answered_first
from voice_letta.agent.recall.roles import mismatched, names_a_speaker, other_animal, other_name, query_roles
from voice_letta.agent.recall.vector import MIN_COSINE, STATS_SAMPLE_ROWS, SearchWindow

if TYPE_CHECKING:
    from voice_letta.agent.recall.index import PassageIndex

CONTEXT_WEIGHT = 0.5  # the line before a dialogue line counts at this weight in its BM25 (index.py links them)
SPEAKER_BOOST = 0.5  # in z units
DATE_BOOST = 1.0  # in z units, for passages said in a range the question dates ("on 3 October 2023")
DENSE_WEIGHT = 1.0
KEYWORD_WEIGHT = 1.0
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
class KeywordHalf:
    """What ``rank`` needs of the queries' words alone (no vector): each query's terms and BM25 (rows, scores). Computed
    while the queries are embedded (``PassageIndex.keyword_half``); it stands for the index of ``size`` rows only."""

    size: int
    queries: tuple[str, ...]
    term_lists: list[list[str]]
    scores: list[tuple[np.ndarray, np.ndarray]]


def keyword_half(index: PassageIndex, queries: Sequence[str]) -> KeywordHalf:
    """Each query's terms and BM25 (with the line before each dialogue line as context) over ``index``."""
    term_lists = [T.query_terms(q) for q in queries]
    return KeywordHalf(index.size, tuple(queries), term_lists, [
        index.keywords.score(terms, prev=index.prev, next_=index.next, context_weight=CONTEXT_WEIGHT,
                             lengths=index.context_lengths) for terms in term_lists])


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
    # Storage style (recall/confidence.py): the best query's ``style_baseline`` over the agent's passages (None
    # without vectors), and whether this is a third-person note about the user answering a first-person question.
    baseline: float | None = None
    third_person: bool = False
    other_role: bool = False  # names no one of the role, or not the name, the question asks about (recall/roles.py)
    asks: bool = False  # a stored question nothing in it answers (recall/questions.py): never a confident answer
    # it cannot be the answer: not the name asked about, no phone/email/address asked for, the opposite end
    misfit: bool = False
    lead: float = 0.0  # ``cosine`` minus the best of every other candidate's (recall/confidence.py ``lead``)


def rank(index: PassageIndex, query_vectors: np.ndarray | None, queries: Sequence[str], window: SearchWindow,
         limit: int, speaker: str | None, dated: Sequence[tuple[float, float]] = (), min_cosine: float = MIN_COSINE,
         rank_only: int = 0, cross_vectors: np.ndarray | None = None, keyword: KeywordHalf | None = None
         ) -> list[Ranked]:
    """The best ``limit`` passages of ``index`` for these queries, best first (the caller holds the index's lock).
    ``keyword``: ``keyword_half`` of these queries, computed ahead (used when it stands for this index's rows).
    The last ``rank_only`` queries are the utterance in other words (``recall/synonyms.py``): they find and rank
    passages, but a passage's confidence (its cosine, coverage and style) is judged with the other queries, the
    words the user and the model said (an expansion's wording is closer to some near misses too: "my flat" said as
    "my apartment" lifted another holder's flat over 0.5)."""
    n = index.size
    if n == 0 or limit <= 0:
        return []
    mask = index.window_mask(window)
    fused = np.full(n, -np.inf, dtype=np.float32)
    best_cos = np.zeros(n, dtype=np.float32)
    # the query ``best_cos`` comes from (its style is judged with it); queries are at most memory_search.MAX_QUERIES + 1
    cos_query = np.zeros(n, dtype=np.int8)
    dense = own_dense = _dense(index, query_vectors) if query_vectors is not None else None
    if dense is not None and cross_vectors is not None and len(index.cross_rows):  # other languages (cross.py)
        dense = with_cross(dense, index.cross_rows, index.cross_matrix, cross_vectors, index.has_vector)
    baselines: list[float | None] = [None] * len(queries)
    if keyword is None or keyword.size != n or keyword.queries != tuple(queries):
        keyword = keyword_half(index, queries)
    term_lists = keyword.term_lists
    matched = np.zeros(n, dtype=bool)  # found by a keyword, or close enough in meaning (MIN_COSINE)
    speaker = index.named_speaker(queries[0] if queries else "", speaker)
    explicit = speaker is not None and speaker in T.words(queries[0])
    own = len(term_lists) - rank_only  # the queries confidence is judged with
    own_fused = np.full(n, -np.inf, dtype=np.float32)
    own_query = np.zeros(n, dtype=np.int8)
    every_vector = bool(index.has_vector.all())  # the common case: no pass to pick or blank the rows without one
    for j in range(len(term_lists)):
        score = np.zeros(n, dtype=np.float32)
        if dense is not None and j < dense.shape[1]:
            col = dense[:, j]
            # contiguous either way: numpy sums a strided column in buffered chunks, in another order
            valid = np.ascontiguousarray(col) if every_vector else col[index.has_vector]
            baselines[j] = style_baseline(valid[::max(1, len(valid) // STATS_SAMPLE_ROWS)])
            if len(valid) > 1:
                mu, sd = float(valid.mean()), float(valid.std()) or 1.0
                z = (col - mu) / sd
                score += DENSE_WEIGHT * (z if every_vector else np.where(index.has_vector, z, 0.0).astype(np.float32,
                                                                                                       copy=False))
            if j < own:
                better = col > best_cos
                best_cos = np.where(better, col, best_cos)
                cos_query = np.where(better, j, cos_query)
            matched |= _close(index, col, min_cosine)
            if own_dense is not None and own_dense is not dense:  # the second lane re-scores rows MiniLM kept as
                matched |= _close(index, own_dense[:, j], min_cosine)  # candidates; it does not drop them
        rows, bm = keyword.scores[j]
        if len(rows):
            mu = float(bm.sum()) / n
            sd = math.sqrt(max(float((bm * bm).sum()) / n - mu * mu, 1e-12))
            kw = np.full(n, -mu / sd, dtype=np.float32)
            kw[rows] = (bm - mu) / sd
            score += KEYWORD_WEIGHT * kw
            matched[rows] = True
        fused = np.maximum(fused, score)
        if j < own:
            better = score > own_fused
            own_query = np.where(better, j, own_query)
            own_fused = np.where(better, score, own_fused)
    if NEIGHBOUR_WEIGHT:
        fused = with_neighbours(index, fused)
    matches = np.zeros(n, dtype=bool)
    others = np.zeros(n, dtype=bool)
    if speaker is not None:
        matches = index.said_by(speaker)
        others = index.dialogue & ~matches
        # float32 sums, as float64 ones rounded to float32 were (double rounding is exact for a sum: 53 >= 2 x 24 + 2)
        fused = (fused + np.float32(SPEAKER_BOOST) * matches).astype(np.float32, copy=False)
    if dated:
        inside = np.zeros(n, dtype=bool)
        for lo, hi in dated:
            inside |= (index.end_at >= lo) & (index.start_at <= hi)
        fused = (fused + np.float32(DATE_BOOST) * inside).astype(np.float32, copy=False)
    keep = matched if mask is None else matched & mask
    fused = np.where(keep, fused, np.float32(-np.inf))
    k = min(max(limit * 4, 20), int(np.isfinite(fused).sum()))
    if k <= 0:
        return []
    top = np.argpartition(-fused, k - 1)[:k] if n > k else np.arange(n)
    top = top[np.argsort(-fused[top], kind="stable")]
    attribution = 0.0
    # A line the person a question names says *to* someone ("careful with your knee") is about that someone: it
    # counts as another speaker's for attribution and for the result itindex. LoCoMo (bench/locomo.py) abstention
    # AUC 0.725 -> see docs/benchmarks.md; the ranking is unchanged. Not for the agent's own user ("I", "my"): what
    # they say to the assistant ("did you see the game?") is still about them.
    told = matches & index.to_listener[:n] if explicit else np.zeros(n, dtype=bool)
    # (a named speaker all of whose lines are said to someone has no line of their own to compare: none)
    if explicit and others.any() and (matches & ~told).any():
        attribution = speaker_attribution(index, term_lists[0], top[:FEEDBACK_ROWS], matches & ~told, others | told)
    # a row placed at another's rank -> that row (it takes at least its confidence)
    order, previous, took = place_versions(index, top, keep, mask, term_lists, best_cos, queries)
    # a stored question nothing answered goes after every passage that may state the fact (recall/questions.py)
    asking = bool(queries) and about_asking(queries[0])
    if not asking:
        order = answered_first(index, order)
    # A result that names no one of the role the question asks about ("my wife's passport") is about someone else
    # (recall/roles.py): flagged, its rank unchanged (placing such results last cost LoCoMo 0.003 of any@5).
    roles = query_roles(term_lists[0], queries[0]) if term_lists else []
    other_role = mismatched(index, order[:limit], roles)
    # an update that does not repeat its subject ("actually make that thursday") is about the one it replaces
    other_role -= {r for r in other_role if r in took and took[r] not in mismatched(index, [took[r]], roles)}
    elsewhere = set(other_role) | (other_animal(index, order[:limit], term_lists[0]) if term_lists else set())
    # the opposite end ("what time does the cafe close?" / "we're opening at half seven", recall/opposites.py)
    misfit = opposite_side(index, order[:limit], term_lists[0]) if term_lists else set()
    unnamed: set[int] = set()
    if queries:  # a name the question asks about, not said ("what is remi allergic to?" / "gideon is allergic…");
        # a later version is judged with what it replaces, as for roles
        shown = order[:limit]
        judged = shown + [took[r] for r in shown if r in took]
        unnamed = other_name(index, judged, queries[0])
        unnamed = {r for r in shown if r in unnamed and not (r in took and took[r] not in unnamed)}
        misfit |= unnamed
        # the identifier of another thing ("sam's seat number" / "sam's on KL1008", recall/identifiers.py); and
        # unless a speaker's plans (judged by speaker, as for DAY below): the other leg of a trip ("the ferry back"
        # / "booked the ferry to waiheke", recall/opposites.py), another day of the month ("the week of the 28th" /
        # "…the 14th…the 21st", recall/monthdays.py), the same thing at another place ("the bike lock at home" /
        # "the bike lock at the station", recall/places.py), another attribute of the same holder ("ivy's football" /
        # "parents evening for ivy…", recall/identifiers.py)
        checks = [other_identifier]
        if not names_a_speaker(index, queries[0]):
            checks += [other_leg, other_day, other_place, other_attribute]
        for check in checks:
            found = check(index, judged, queries[0])
            misfit |= {r for r in shown if r in found and not (r in took and took[r] not in found)}
    kind = asked_kind(queries[0]) if queries else 0
    if kind & (DAY | CLOCK) and names_a_speaker(index, queries[0]):
        # a speaker's plans are dated by when they were said ("When is Andrew going hiking?" / "…soon")
        kind &= ~(DAY | CLOCK)
    lacking: set[int] = set()
    if kind:  # "how much did the lodge cost?" and no sum of money said (recall/quantity.py)
        numbers = index.numbers
        def says(r: int) -> bool:
            return bool(numbers[r] & kind) or (index.prev[r] >= 0 and bool(numbers[index.prev[r]] & kind))

        # a later version placed at what it replaces is judged with it, as for roles and names
        lacking = {r for r in order[:limit] if not says(r) and not (r in took and says(took[r]))}
        elsewhere |= lacking
    first_person = [bool(T.FIRST_PERSON.intersection(T.words(q))) for q in queries]
    if not (first_person and first_person[0]):
        other_role = set()  # the user's own people ("my wife's car"); not "Jolene and her partner"
    if kind & STRICT_KINDS:  # no phone number, email or address at all: "my new contact is rosa lind" (cos ~0.7)
        misfit |= lacking
    elsewhere |= misfit
    # the two best cosines of the candidates, a row placed at what it replaces with that one's too (as its result is)
    best_two = sorted(float(max(best_cos[r], best_cos[took[r]]) if r in took else best_cos[r]) for r in order)[-2:]
    out = []
    for r in order[:limit]:
        terms = term_lists[int(own_query[r])] if term_lists else []
        value, cos, cov = float(fused[r]), float(best_cos[r]), coverage(index, int(r), terms)
        if r in took:  # a successor or later version takes the rank of what it replaced, and at least its confidence
            o = took[r]
            o_terms = term_lists[int(own_query[o])] if term_lists else []
            value, cos = max(value, float(fused[o])), max(cos, float(best_cos[o]))
            cov = max(cov, coverage(index, o, o_terms))
        out.append(Ranked(int(r), index.ids[r], value, cos, cov, bool(matches[r]),
                          bool(index.has_vector[r]) and query_vectors is not None,
                          tuple(index.ids[p] for p in previous.get(int(r), ())),
                          bool(others[r] or told[r] or r in elsewhere), attribution,
                          *_style(index, int(r), int(cos_query[r]), baselines, first_person), r in other_role,
                          bool(index.asks[r]) and not asking, r in misfit, lead(cos, best_two)))
    return out


def _style(index: PassageIndex, row: int, query: int, baselines: Sequence[float | None], first_person: Sequence[bool]
           ) -> tuple[float | None, bool]:
    """``Ranked.baseline`` and ``Ranked.third_person`` of a row, judged with the query its cosine came from (a
    model's keyword query "user's pet" already matches "The user has a parrot" in its own style)."""
    if query >= len(baselines):
        return None, False
    return baselines[query], bool(index.third_person[row]) and first_person[query]


def speaker_attribution(index: PassageIndex, query_terms: Sequence[str], feedback: np.ndarray, mine: np.ndarray,
                        others: np.ndarray) -> float:
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
    names = {tid for name in index.known_speakers for tid in T.term_ids(name)}
    topic = [t for t in query_terms if T.term_id(t) not in names]  # a name matches all of its own lines
    skip = names | {T.term_id(t) for t in topic}
    weight: dict[int, float] = {}
    for r in feedback.tolist():
        for tid in set(index.terms_of(int(r)).tolist()):
            if tid not in skip:
                weight[tid] = weight.get(tid, 0.0) + index.keywords.idf_of(tid)
    extra = sorted(weight, key=lambda t: -weight[t])[:FEEDBACK_TERMS]
    rows, bm = index.keywords.score(topic, ids=extra)
    if not len(rows):
        return 0.0
    n = index.size
    mu = float(bm.sum()) / n
    sd = math.sqrt(max(float((bm * bm).sum()) / n - mu * mu, 1e-12))
    own = np.full(n, -mu / sd, dtype=np.float32)
    own[rows] = (bm - mu) / sd
    return float(own[mine].max()) - float(own[others].max())


def with_neighbours(index: PassageIndex, fused: np.ndarray) -> np.ndarray:
    """``fused`` plus NEIGHBOUR_WEIGHT x the better positive score of each line's neighbours (before, after)."""
    nb = np.zeros_like(fused)
    for has, link in index.links:  # (linked?, the linked row or 0) before, then after, kept by index._link
        nb = np.maximum(nb, np.where(has, fused[link], np.float32(0.0)))
    out: np.ndarray = (fused + NEIGHBOUR_WEIGHT * nb).astype(np.float32, copy=False)
    return out


def _close(index: PassageIndex, col: np.ndarray, min_cosine: float) -> np.ndarray:
    """The rows close enough in meaning to be candidates: at least ``min_cosine``, or among the DENSE_FLOOR_TOP
    nearest and at least LOW_COSINE."""
    out: np.ndarray = index.has_vector & (col >= min_cosine)
    nearest = np.argpartition(-col, min(DENSE_FLOOR_TOP, len(col)) - 1)[:DENSE_FLOOR_TOP]
    out[nearest[index.has_vector[nearest] & (col[nearest] >= LOW_COSINE)]] = True
    return out


def _dense(index: PassageIndex, query_vectors: np.ndarray) -> np.ndarray:
    """(n, q) cosines: exact below the coarse threshold; past it, the sign-bit candidates are scored exactly
    and every other row gets the mean of a fixed sample (it cannot be among the best anyway)."""
    n = index.size
    q = np.asarray(query_vectors, dtype=np.float32)
    if n < index.vectors.coarse_min_rows:
        out: np.ndarray = index.vectors.matrix[:n] @ q.T
        return out
    base = (index.vectors.sample(n) @ q.T).mean(axis=0)
    out = np.empty((n, q.shape[0]), dtype=np.float32)
    out[:] = base.astype(np.float32)  # every row the sample's mean (np.tile built it 4x slower)
    for j in range(q.shape[0]):
        rows, scores = index.vectors.candidates(q[j], None)
        out[rows, j] = scores
    return out


def coverage(index: PassageIndex, row: int, terms: Sequence[str]) -> float:
    """Share of the query's IDF weight whose terms occur in the passage or in the line before it."""
    total = found = 0.0
    p = int(index.prev[row])
    for t in terms:
        w = index.keywords.idf(t)
        if w <= 0:
            continue
        total += w
        rows, _ = index.keywords.postings(t)
        if len(rows) and (_contains(rows, row) or (p >= 0 and _contains(rows, p))):
            found += w
    return found / total if total else 0.0


def _contains(rows: np.ndarray, row: int) -> bool:
    i = int(np.searchsorted(rows, row))
    return i < len(rows) and int(rows[i]) == row
