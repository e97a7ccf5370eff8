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
"""

from __future__ import annotations

import numpy as np

# e5 cosines of English questions to English turns (LoCoMo conversation 0, categories 1-4: 419 turns x 154
# questions): median 0.787, interquartile range 0.763-0.808
E5_MEAN = 0.787
E5_SPREAD = 0.034
PRIOR_ROWS = 20.0
MIN_OWN_ROWS = 20


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
