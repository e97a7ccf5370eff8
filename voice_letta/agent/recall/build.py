"""An agent's ``PassageIndex`` built from what the store returns: texts, stored keyword terms and vectors.

Pure and thread-safe, so ``MemorySearch`` runs it off the event loop. Keyword terms and the per-passage flags
ranking needs (``recall/features.py``) are stored with each passage at insert; a passage without a current stored
blob (stored before they were, or by other code: another tokenizer or other flag rules) is computed here and
handed back to be stored once.
"""

from __future__ import annotations

import numpy as np

from voice_letta.agent.ports import PassageTexts, PassageVectors
from voice_letta.agent.recall import features as F
from voice_letta.agent.recall.index import PassageIndex
from voice_letta.agent.recall.keyword import TermRows


def build_index(texts: PassageTexts, loaded: PassageVectors, model: str, dim: int
                ) -> tuple[PassageIndex, list[tuple[str, bytes]]]:
    """The index of these passages, and the (id, terms blob) of those whose terms must be stored."""
    index = PassageIndex(model, dim)
    terms, flags, missing = stored_terms(texts)
    matrix = np.frombuffer(loaded.vectors, dtype="<f4").reshape(len(loaded.ids), loaded.dim)
    if loaded.ids == texts.ids:  # every passage has a vector of this model: no copy, no scatter
        index.add(list(texts.ids), list(texts.texts), list(texts.synopses), texts.start_at,
                  texts.end_at, matrix, [True] * len(texts.ids), terms=terms,
                  features=flags, adopt=True, superseded_by=texts.superseded_by or None)
        return index, missing
    row = {pid: i for i, pid in enumerate(texts.ids)}
    vectors = np.zeros((len(texts.ids), dim), dtype=np.float32)
    ok = np.zeros(len(texts.ids), dtype=bool)
    if loaded.ids:
        at = np.asarray([row.get(pid, -1) for pid in loaded.ids], dtype=np.int64)
        keep = at >= 0
        vectors[at[keep]] = matrix[keep]
        ok[at[keep]] = True
    index.add(list(texts.ids), list(texts.texts), list(texts.synopses), texts.start_at, texts.end_at,
              vectors, ok.tolist(), terms=terms, features=flags, adopt=True, superseded_by=texts.superseded_by or None)
    return index, missing


def stored_terms(texts: PassageTexts) -> tuple[TermRows, np.ndarray, list[tuple[str, bytes]]]:
    """The passages' term ids and flags, decoded from their stored blobs in one pass; passages without a current
    blob are computed now and returned (id, blob) to be stored."""
    stored = list(texts.terms or (None,) * len(texts.ids))
    missing: list[tuple[str, bytes]] = []
    redo = [i for i, blob in enumerate(stored) if not F.is_current(blob)]
    if redo:
        flags = F.passage_features([texts.texts[i] for i in redo], [texts.synopses[i] for i in redo])
        for i, f in zip(redo, flags.tolist(), strict=True):
            blob = stored[i] = F.encode_passage(texts.texts[i], texts.synopses[i], f)
            missing.append((texts.ids[i], blob))
    words = np.frombuffer(b"".join(stored), dtype="<u8")  # type: ignore[arg-type]
    lengths = np.fromiter((len(b) for b in stored), dtype=np.int64, count=len(stored)) // 8  # type: ignore[arg-type]
    starts = np.cumsum(lengths) - lengths  # each blob starts with PASSAGE_MAGIC and its flags: two words
    heads = np.zeros(len(words), dtype=bool)
    heads[starts] = heads[starts + 1] = True
    return TermRows(words[~heads].astype(np.uint64), lengths - 2), words[starts + 1].astype(np.uint64), missing
