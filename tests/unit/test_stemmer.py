"""The Porter stems of recall terms are the same with PyStemmer (C, picked up by ``snowballstemmer`` when
installed) as with snowballstemmer's pure-Python Porter stemmer: stored term ids (recall/text.py TERMS_MAGIC) and
FTS5 document counts (store/fts.py) must not change with the implementation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import snowballstemmer
from hypothesis import given, settings
from hypothesis import strategies as st
from snowballstemmer.porter_stemmer import PorterStemmer

from voice_letta.agent.recall import text

ROOT = Path(__file__).resolve().parents[2]
_WORD = re.compile(r"\w+", re.UNICODE)


def _words(value: object, out: set[str]) -> None:
    if isinstance(value, str):
        out.update(w.strip("_") for w in _WORD.findall(value.lower()))
    elif isinstance(value, dict):
        for v in value.values():
            _words(v, out)
    elif isinstance(value, list):
        for v in value:
            _words(v, out)


def test_the_c_stemmer_is_the_one_in_use() -> None:
    # pyproject requires pystemmer; snowballstemmer hands out its Stemmer class when it imports.
    assert type(snowballstemmer.stemmer("porter")).__module__ == "Stemmer"
    assert type(text._STEMMER).__module__ == "Stemmer"


def test_stems_of_the_recall_sets_are_the_pure_python_ones() -> None:
    vocabulary: set[str] = set()
    for name in ("recall_set.json", "recall_holdout.json"):
        _words(json.loads((ROOT / "bench" / name).read_text()), vocabulary)
    vocabulary.discard("")
    assert len(vocabulary) > 1000
    pure = PorterStemmer()
    assert [w for w in sorted(vocabulary) if text.stem(w) != pure.stemWord(w)] == []
    sample = " ".join(sorted(vocabulary)[:400])
    assert text.terms(sample) == [pure.stemWord(w) for w in text.words(sample) if w not in text.STOPWORDS]


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzéüñß0123456789"), min_size=1, max_size=16))
def test_any_word_stems_alike(word: str) -> None:
    assert text._STEMMER.stemWord(word) == PorterStemmer().stemWord(word)
