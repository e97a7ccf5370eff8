"""Chains of versions (recall/updates.py, recall/cued.py): every older version of a fact goes after the newest, the
middle ones included, whatever else the later lines say."""

from __future__ import annotations

import numpy as np

from voice_letta.agent.recall.cues import cues
from voice_letta.agent.recall.index import PassageIndex
from voice_letta.agent.recall.vector import SearchWindow

DAY = 86400.0


def _index(texts: list[str], vectors: list[list[float]], days: list[float]) -> PassageIndex:
    index = PassageIndex("m", len(vectors[0]))
    at = [1_000_000.0 + d * DAY for d in days]
    matrix = np.asarray(vectors, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    index.add([f"p{i}" for i in range(len(texts))], texts, [""] * len(texts), at, at, matrix, [True] * len(texts))
    return index


def _ranked(index: PassageIndex, query: list[float], question: str) -> list[str]:
    q = np.asarray([query], dtype=np.float32)
    q /= np.linalg.norm(q)
    return [r.passage_id for r in index.rank(q, [question], SearchWindow(None, None), limit=4, speaker="user")]


def test_a_figure_that_went_to_another_and_a_change_told_in_the_present_are_strong_cues() -> None:
    _, cue, strong = cues(["Bernadette's hours went to 7:30 to 9", "we change flour to Janie's Mill, $31 for 50 lb",
                           "we went to the shop after school", "we need to change the oil"])
    assert cue.tolist() == [True, True, False, False]
    assert strong.tolist() == cue.tolist()


def _vectors(pairs: dict[tuple[int, int], float], n: int, query: list[float]) -> tuple[list[list[float]], list[float]]:
    """n unit vectors with the given pairwise cosines (Cholesky of their Gram matrix) and a query vector with the
    given cosine to each, in n + 1 dimensions."""
    gram = np.eye(n)
    for (a, b), c in pairs.items():
        gram[a, b] = gram[b, a] = c
    basis = np.linalg.cholesky(gram)  # rows: the vectors in n dimensions
    q = np.linalg.solve(basis, np.asarray(query))
    rest = float(np.sqrt(max(1.0 - float(q @ q), 1e-6)))
    vectors = [[*row, 0.0] for row in basis.tolist()]
    return vectors, [*q.tolist(), rest]


def test_the_middle_of_a_chain_that_says_a_change_goes_after_the_newest_version() -> None:
    # The newest version is most like the first (0.75) and less like the middle one (0.50, under DUPLICATE_COSINE):
    # the middle change ranked first for the question and stood there, older than the newest (test14).
    vectors, query = _vectors({(0, 1): 0.6, (0, 2): 0.75, (1, 2): 0.54}, 3, [0.59, 0.68, 0.58])
    index = _index(["[Ciarán] Day centre in Cabra has him Tuesdays and Thursdays, bus collects 9:30, back at half 3",
                    "[Niamh] day centre swapped him to Mondays and Thursdays, they needed the Tuesday place",
                    "[Ciarán] Day centre have him down for Fridays as well now, so Mon Thu Fri"],
                   vectors, [-60, -30, -5])
    assert _ranked(index, query, "Which days is he at the day centre?") == ["p2", "p1", "p0"]


def test_a_version_is_paired_with_the_later_line_naming_the_asked_item_before_a_more_alike_one() -> None:
    # The final's dates are more alike the midterm's first date than the midterm's own change is (0.70 / 0.58): paired
    # by likeness alone, the midterm's first date went behind the final and stayed above its own change (test14).
    vectors, query = _vectors({(0, 1): 0.58, (0, 2): 0.7, (0, 3): 0.6, (1, 2): 0.5, (1, 3): 0.6, (2, 3): 0.8}, 4,
                              [0.71, 0.62, 0.6, 0.55])
    index = _index(["midterm for chem is november ninth in the evening seven to nine in moore one hundred",
                    "the chem midterm got pushed to november sixteenth same time same room because of the fire alarm",
                    "chem final is december fourteenth eight am to eleven in the big lecture hall royce",
                    "the chem final got moved to december fifteenth at three pm same place royce"], vectors,
                   [-50, -41, -21, -2])
    ranked = _ranked(index, query, "when is the chem midterm")
    assert ranked.index("p1") < ranked.index("p0")


def test_a_change_naming_the_asked_attribute_updates_a_passage_of_several_facts_it_is_little_like() -> None:
    # "switched main to clove" is 0.32 alike the line of four facts it changes one of (under CUE_COSINE); it says the
    # asked word ("main") with it. The duo's change, more alike (0.50), says none of it (test14).
    vectors, query = _vectors({(0, 1): 0.5, (0, 2): 0.32, (1, 2): 0.2}, 3, [0.45, 0.3, 0.18])
    texts = ["ok so im hardstuck gold 2 in valorant, main jett, sometimes omen. my duo is my friend elias, his ign is "
             "elixxir", "new duo, elias quit valorant for cs2 :( now i duo with nora",
             "switched main to clove, jett got too many instalockers lol"]
    index = _index(texts, vectors, [-40, -10, -20])
    ranked = _ranked(index, query, "Who do I main?")
    assert ranked.index("p2") < ranked.index("p0")
    # the asked word said by another holder's line is not enough: every word of the question the older line says
    vectors, query = _vectors({(0, 1): 0.3}, 2, [0.6, 0.3])
    index = _index(["Kaila has asthma, inhaler in the front pocket of her bag. mom is Noelani 808-555-0121",
                    "Marco got a new job with night shifts, Ana's mom Lani is driving the carpool from now"], vectors,
                   [-40, -1])
    assert _ranked(index, query, "Who is Kaila's mom?")[0] == "p0"

