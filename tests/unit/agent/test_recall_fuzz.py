"""Property-based fuzzing of one agent's ranking (``PassageIndex.rank``): whatever the passages, their times, their
supersessions and the query, a search returns a well-formed list and never raises.

Why: the ranking's later stages (update groups, implicit updates, supersession chains, parts of long notes) move
rows around between lists; one of them once placed a row that was not a candidate and every search hitting that
shape failed with a ValueError, which no example-based test had reached.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voice_letta.agent.recall.confidence import confidence
from voice_letta.agent.recall.index import PassageIndex
from voice_letta.agent.recall.vector import SearchWindow

DAY = 86400.0
DIM = 8
# Lines in the shapes the product stores (a user's line, the assistant's, named speakers, a note with a heading, a
# third-person note) with the words the update, quantity, role and time rules react to.
SPEAKERS = ["user: ", "assistant: ", "Maya: ", "Ben: ", "Kitchen: ", "The user said ", ""]
WORDS = ["i", "live", "in", "boston", "moved", "to", "seattle", "actually", "now", "my", "sister", "works", "at",
         "a", "museum", "started", "job", "the", "budget", "is", "$4,000", "dog", "cat", "named", "rex", "wife",
         "car", "changed", "no", "longer", "corrected", "yesterday", "on", "monday", "flight", "leaves", "9",
         "portland", "these", "days", "we", "swapped", "quartz", "for", "oak", "birthday", "july", "seventy", "it's"]
QUERY_WORDS = ["where", "do", "does", "i", "my", "live", "what", "is", "the", "budget", "when", "how", "much",
               "maya", "sister", "dog", "car", "wife", "did", "you", "tell", "me", "yesterday", "flight", "job",
               "what's", "kitchen", "previously", "used", "to", "before"]

line = st.tuples(st.sampled_from(SPEAKERS), st.lists(st.sampled_from(WORDS), min_size=1, max_size=30)).map(
    lambda t: t[0] + " ".join(t[1]))
# A few prototype directions (axes and half-way mixes of two) plus a little noise: near-duplicates (versions of one
# fact) are common, and so is a passage alike an earlier one but not the question (a later version that is not a
# candidate of the search).
PROTOTYPES = np.concatenate([np.eye(DIM, dtype=np.float32)[:4],
                             np.array([[1, 1, 0, 0, 0, 0, 0, 0], [0, 1, 1, 0, 0, 0, 0, 0], [1, 0, 0, 1, 0, 0, 0, 0]],
                                      dtype=np.float32) / np.sqrt(2)])
direction = st.tuples(st.integers(0, len(PROTOTYPES) - 1),
                      st.lists(st.floats(-0.15, 0.15), min_size=DIM, max_size=DIM))


def _vector(choice: tuple[int, list[float]]) -> np.ndarray:
    v = PROTOTYPES[choice[0]] + np.asarray(choice[1], dtype=np.float32)
    return v / float(np.linalg.norm(v) or 1.0)


passages = st.lists(st.tuples(line, direction, st.floats(-60, 0), st.booleans()), min_size=1, max_size=64)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(passages=passages,
       query=st.lists(st.sampled_from(QUERY_WORDS), min_size=1, max_size=10).map(" ".join),
       query_direction=direction,
       supersessions=st.lists(st.tuples(st.integers(0, 63), st.integers(0, 63)), max_size=4),
       window=st.one_of(st.none(), st.tuples(st.floats(-61, 1), st.floats(0, 30))),
       limit=st.integers(1, 12),
       speaker=st.sampled_from([None, "user", "Maya"]))
def test_a_search_is_well_formed_whatever_the_passages(
        passages: list[tuple[str, tuple[int, list[float]], float, bool]], query: str,
        query_direction: tuple[int, list[float]], supersessions: list[tuple[int, int]],
        window: tuple[float, float] | None, limit: int, speaker: str | None) -> None:
    index = PassageIndex("m", DIM)
    ids = [f"p{i}" for i in range(len(passages))]
    at = [1_000_000.0 + days * DAY for _, _, days, _ in passages]
    index.add(ids, [text for text, _, _, _ in passages], [""] * len(passages), at, at,
              np.stack([_vector(d) for _, d, _, _ in passages]), [has for _, _, _, has in passages])
    for old, new in supersessions:
        if old < len(ids) and new < len(ids) and old != new:
            index.supersede([ids[old]], ids[new])
    search = SearchWindow(None, None) if window is None else SearchWindow(
        1_000_000.0 + window[0] * DAY, 1_000_000.0 + (window[0] + window[1]) * DAY)

    ranked = index.rank(_vector(query_direction)[None, :], [query], search, limit=limit, speaker=speaker)

    assert len(ranked) <= limit
    assert len({r.passage_id for r in ranked}) == len(ranked)
    known = set(ids)
    for r in ranked:
        assert r.passage_id in known and index.ids[r.row] == r.passage_id
        assert math.isfinite(r.score) and math.isfinite(r.cosine) and 0.0 <= r.coverage <= 1.0
        assert set(r.previous) <= known and r.passage_id not in r.previous
        value = confidence(r.cosine if r.has_vector else None, r.coverage, other_speaker=r.other_speaker,
                           attribution=r.attribution, baseline=r.baseline, third_person=r.third_person)
        assert 0.0 <= value <= 1.0
