"""An index of texts whose vectors have chosen cosines: ranking tests that set how alike lines are without a model."""

from __future__ import annotations

import numpy as np

from voice_letta.agent.recall.index import PassageIndex
from voice_letta.agent.recall.vector import SearchWindow

DAY = 86400.0


def vectors(pairs: dict[tuple[int, int], float], n: int, query: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """n unit vectors with the given pairwise cosines (0 otherwise) and a query with the given cosine to each."""
    gram = np.eye(n)
    for (a, b), c in pairs.items():
        gram[a, b] = gram[b, a] = c
    basis = np.linalg.cholesky(gram)
    q = np.linalg.solve(basis, np.asarray(query))
    rest = float(np.sqrt(max(1.0 - float(q @ q), 1e-6)))
    return (np.hstack([basis, np.zeros((n, 1))]).astype(np.float32),
            np.asarray([[*q.tolist(), rest]], dtype=np.float32))


def ranked(texts: list[str], pairs: dict[tuple[int, int], float], query: list[float], question: str) -> list[str]:
    """The ids ("p0", "p1"…) of the top 3 for ``question``, the texts said three days apart in order."""
    matrix, q = vectors(pairs, len(texts), query)
    at = [1_000_000.0 + i * 3 * DAY for i in range(len(texts))]
    index = PassageIndex("m", matrix.shape[1])
    index.add([f"p{i}" for i in range(len(texts))], texts, [""] * len(texts), at, at, matrix, [True] * len(texts))
    return [r.passage_id for r in index.rank(q, [question], SearchWindow(None, None), limit=3, speaker="user")]
