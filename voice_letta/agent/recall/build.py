"""An agent's ``PassageIndex`` built from what the store returns: texts, stored keyword terms and vectors.

Pure and thread-safe, so ``MemorySearch`` runs it off the event loop (~1 s at 100k passages). Keyword terms are
stored with each passage at insert; a passage without a valid stored blob (stored before terms were, or by an older
tokenizer) is tokenized here and handed back to be stored once.
"""

from __future__ import annotations

import numpy as np

from voice_letta.agent.ports import PassageTexts, PassageVectors
from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.index import PassageIndex
from voice_letta.agent.recall.keyword import TermRows


def build_index(texts: PassageTexts, loaded: PassageVectors, model: str, dim: int
                ) -> tuple[PassageIndex, list[tuple[str, bytes]]]:
    """The index of these passages, and the (id, terms blob) of those whose terms must be stored."""
    index = PassageIndex(model, dim)
    terms, missing = stored_terms(texts)
    matrix = np.frombuffer(loaded.vectors, dtype="<f4").reshape(len(loaded.ids), loaded.dim)
    if loaded.ids == texts.ids:  # every passage has a vector of this model: one copy, no scatter
        index.add(list(texts.ids), list(texts.texts), list(texts.synopses), texts.start_at,
                  texts.end_at, matrix.astype(np.float32), [True] * len(texts.ids), terms=terms,
                  adopt=True, superseded_by=texts.superseded_by or None)
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
              vectors, ok.tolist(), terms=terms, adopt=True, superseded_by=texts.superseded_by or None)
    return index, missing


def stored_terms(texts: PassageTexts) -> tuple[TermRows, list[tuple[str, bytes]]]:
    """The passages' term ids, decoded from their stored blobs in one pass; passages without a valid blob are
    tokenized now and returned (id, blob) to be stored."""
    stored = list(texts.terms or (None,) * len(texts.ids))
    missing: list[tuple[str, bytes]] = []
    for i, blob in enumerate(stored):
        if blob is None or len(blob) % 8 or blob[:8] != T.TERMS_MAGIC:
            blob = stored[i] = T.encode_terms(T.passage_document(texts.texts[i], texts.synopses[i]))
            missing.append((texts.ids[i], blob))
    words = np.frombuffer(b"".join(stored), dtype="<u8")  # type: ignore[arg-type]
    lengths = np.fromiter((len(b) for b in stored), dtype=np.int64, count=len(stored)) // 8  # type: ignore[arg-type]
    heads = np.zeros(len(words), dtype=bool)  # each blob starts with the 8-byte TERMS_MAGIC
    heads[np.cumsum(lengths) - lengths] = True
    return TermRows(words[~heads].astype(np.uint64), lengths - 1), missing


