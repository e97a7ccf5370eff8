"""A colour said anew with no change word (recall/updates.py ``_gives_anew``): for a question asking a colour, the
lines of one holder that each say a colour are versions of it, newest first, however little alike their wording."""

from __future__ import annotations

import numpy as np

from voice_letta.agent.recall.index import PassageIndex
from voice_letta.agent.recall.vector import SearchWindow

DAY = 86400.0


def _vectors(pairs: dict[tuple[int, int], float], n: int, query: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """n unit vectors with the given pairwise cosines (0 otherwise) and a query with the given cosine to each."""
    gram = np.eye(n)
    for (a, b), c in pairs.items():
        gram[a, b] = gram[b, a] = c
    basis = np.linalg.cholesky(gram)
    q = np.linalg.solve(basis, np.asarray(query))
    rest = float(np.sqrt(max(1.0 - float(q @ q), 1e-6)))
    return (np.hstack([basis, np.zeros((n, 1))]).astype(np.float32),
            np.asarray([[*q.tolist(), rest]], dtype=np.float32))


def _ranked(texts: list[str], pairs: dict[tuple[int, int], float], query: list[float], question: str) -> list[str]:
    matrix, q = _vectors(pairs, len(texts), query)
    at = [1_000_000.0 + i * 3 * DAY for i in range(len(texts))]
    index = PassageIndex("m", matrix.shape[1])
    index.add([f"p{i}" for i in range(len(texts))], texts, [""] * len(texts), at, at, matrix, [True] * len(texts))
    return [r.passage_id for r in index.rank(q, [question], SearchWindow(None, None), limit=3, speaker="user")]


def test_a_colour_changed_twice_without_a_change_word_ranks_the_newest_first() -> None:
    # the order, then "rather have it in black", then "green please": 0.30 and 0.40 alike the order, no cue word; the
    # order ranked first (test16)
    texts = ["Customer order: Mrs Holm, green Christiania box bike, deposit kr 2.000 paid",
             "Larry vs Harry: ordered 3 Bullitt cargo bikes for the Christmas rush",
             "Mrs Holm rang, she'd rather have it in black after all. Christiania says black is 3 weeks longer",
             "Sofie part-time Mon + Wed 12-18, Mads full time, closed Sundays",
             "Mrs Holm again: green please, it comes sooner. Christiania fine with it"]
    ranked = _ranked(texts, {(0, 2): 0.30, (0, 4): 0.40, (2, 4): 0.63, (0, 1): 0.3},
                     [0.66, 0.2, 0.47, 0.05, 0.44], "What colour box bike does Mrs Holm want?")
    assert ranked[0] == "p4"


def test_colours_of_two_holders_sharing_only_a_common_word_are_not_versions() -> None:
    # the bike is said by most lines: it names no holder; Mr Berg's red bike is no newer version of Mrs Holm's
    texts = ["Mrs Holm wants the green box bike", "bike service for Jens, new chain", "bike rack fixed",
             "sold two bikes today, bike stand restocked", "bike lights on sale",
             "Mr Berg wants a red cargo bike"]
    ranked = _ranked(texts, {(0, 5): 0.45}, [0.66, 0.1, 0.1, 0.1, 0.1, 0.40], "What colour bike does Mrs Holm want?")
    assert ranked[0] == "p0"
