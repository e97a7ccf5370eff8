"""The second, cross-lingual lane of the dense half (``providers/e5_embed.py``): passages MiniLM cannot read carry
an e5 vector too, and for those rows the question's e5 cosine, put on the agent's MiniLM scale, stands in for
MiniLM's.

e5's cosines live on another scale than MiniLM's (a question scores 0.68-0.90 to every passage) and it scores a
question against text in another language lower than against text in its own, so no fixed map from one scale to
the other fits every agent (a map fitted on LoCoMo's English pairs lifted the second lane's rows above the rest:
holdout abstention 426 -> 415/480). Instead each query's e5 cosines are standardised over the lane's own rows --
their mean and spread shrunk towards E5_MEAN / E5_SPREAD by PRIOR_ROWS pseudo-rows, so an agent with two such
passages does not rank them by two numbers -- and put on the mean and spread of the query's MiniLM cosines over the
agent's other rows (all rows when fewer than MIN_OWN_ROWS are left). MiniLM's own cosine of such a row is dropped:
it scores text it splits into pieces.

Two passages are compared the same way (``pair_scale`` / ``on_pair_scale``, read by ``PassageIndex.pair_cosines``
for the version machinery): MiniLM scores any two lane rows alike (the public halves' 533 pairs of lane rows of one
conversation: 59 % at or over updates.DUPLICATE_COSINE, against 11 % of their English pairs), so "the same thing"
linked the wrong versions ("rescheduled" at the dentist replaced the kimjang's date). A pair of lane rows is scored
by its e5 and its MiniLM cosine, each as a standard score over the agent's lane pairs (e5 reads the meaning;
MiniLM still sees a shared rare word, "gym", "Vesper", that e5-small weighs little), their mean put on MiniLM's
scale of two English passages of one conversation: 12 % of all lane pairs and 64 % of the halves' 53 lane update
pairs reach DUPLICATE_COSINE (English: 11 % and 66 %). e5 alone: 10 % / 62 %, but stale on top on the halves'
lane conversations 28 -> 29/110 against 27 for the mean. A pair of a lane row and another keeps MiniLM's cosine
(the other has no e5 vector).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# e5 cosines of English questions to English turns (LoCoMo conversation 0, categories 1-4: 419 turns x 154
# questions): median 0.787, interquartile range 0.763-0.808
E5_MEAN = 0.787
E5_SPREAD = 0.034
PRIOR_ROWS = 20.0
MIN_OWN_ROWS = 20
# e5 cosines of two lane rows of one conversation (the public halves' 22 conversations with lane rows, 533 pairs):
# mean 0.885, spread 0.036; a language's pairs sit higher or lower (0.84-0.97), hence each agent's own, shrunk
# towards these by PAIR_PRIOR pseudo-pairs
PAIR_E5_MEAN = 0.885
PAIR_E5_SPREAD = 0.036
PAIR_MINI_MEAN = 0.60  # ... and their MiniLM cosines: high, any two lane rows look alike to it
PAIR_MINI_SPREAD = 0.13
MEAN_SCORE_SPREAD = 0.88  # the spread of the mean of a pair's two standard scores (they correlate: 0.71)
PAIR_PRIOR = 20.0
PAIR_SAMPLE = 256  # the latest lane rows measured (256 x 256 products: the scale is a spread, not a search)
# MiniLM cosines of two English passages of one conversation (the halves' 5,774 such pairs): mean 0.306, spread 0.182
MINI_PAIR_MEAN = 0.306
MINI_PAIR_SPREAD = 0.182


def with_cross(dense: np.ndarray, rows: np.ndarray, matrix: np.ndarray, queries: np.ndarray,
               has_vector: np.ndarray) -> np.ndarray:
    """``dense`` ((n, q) MiniLM cosines) with the rows that have a second vector (``rows``, their e5 ``matrix``)
    scored by the queries' e5 vectors (``queries``, (q', dim); with fewer than q, the rest keep MiniLM's)."""
    k = min(dense.shape[1], len(queries))
    if not len(rows) or k == 0:
        return dense
    n = dense.shape[0]
    e5 = matrix @ np.asarray(queries[:k], dtype=np.float32).T  # (rows, k)
    own = np.asarray(has_vector[:n], dtype=bool).copy()
    own[rows] = False
    if own.sum() < MIN_OWN_ROWS:
        own = np.asarray(has_vector[:n], dtype=bool)
    out = np.array(dense, dtype=np.float32)
    g = len(rows)
    for j in range(k):
        lane = e5[:, j]
        mean = (g * float(lane.mean()) + PRIOR_ROWS * E5_MEAN) / (g + PRIOR_ROWS)
        var = (g * float(((lane - mean) ** 2).mean()) + PRIOR_ROWS * E5_SPREAD ** 2) / (g + PRIOR_ROWS)
        mini = dense[own, j] if own.any() else dense[:, j]
        out[rows, j] = float(mini.mean()) + float(mini.std()) * (lane - mean) / max(var ** 0.5, 1e-6)
    return out


class PairScale(NamedTuple):
    """Where an agent's lane pairs sit: mean and spread of their e5 and of their MiniLM cosines."""

    e5_mean: float
    e5_spread: float
    mini_mean: float
    mini_spread: float


def _shrunk(pairs: np.ndarray, mean0: float, spread0: float) -> tuple[float, float]:
    p = len(pairs)
    if not p:
        return mean0, spread0
    mean = (p * float(pairs.mean()) + PAIR_PRIOR * mean0) / (p + PAIR_PRIOR)
    var = (p * float(((pairs - mean) ** 2).mean()) + PAIR_PRIOR * spread0 ** 2) / (p + PAIR_PRIOR)
    return mean, max(var ** 0.5, 1e-6)


def pair_scale(e5: np.ndarray, mini: np.ndarray) -> PairScale:
    """The spread of an agent's lane pairs (``e5`` and ``mini``: the same latest PAIR_SAMPLE lane rows' vectors),
    shrunk towards the public halves' (PAIR_*) by PAIR_PRIOR pseudo-pairs."""
    e5, mini = np.asarray(e5[-PAIR_SAMPLE:], dtype=np.float32), np.asarray(mini[-PAIR_SAMPLE:], dtype=np.float32)
    upper = np.triu_indices(len(e5), 1)
    return PairScale(*_shrunk((e5 @ e5.T)[upper], PAIR_E5_MEAN, PAIR_E5_SPREAD),
                     *_shrunk((mini @ mini.T)[upper], PAIR_MINI_MEAN, PAIR_MINI_SPREAD))


def on_pair_scale(e5: np.ndarray, mini: np.ndarray, scale: PairScale) -> np.ndarray:
    """Lane-row pairs' cosines on MiniLM's scale of two passages: the mean of their e5 and MiniLM standard scores
    (each over the agent's lane pairs, ``pair_scale``), spread as a standard score, put on MINI_PAIR_MEAN/SPREAD.
    One linear form, a x e5 + b x MiniLM + c, in place on a new array (a search's cue pass rescores ~50,000 pairs)."""
    k = MINI_PAIR_SPREAD / (2 * MEAN_SCORE_SPREAD)
    a, b = k / scale.e5_spread, k / scale.mini_spread
    out: np.ndarray = np.multiply(e5, np.float32(a), dtype=np.float32)
    out += np.float32(b) * mini
    out += np.float32(MINI_PAIR_MEAN - a * scale.e5_mean - b * scale.mini_mean)
    return out
