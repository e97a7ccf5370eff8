"""Per-passage flags stored with the terms (recall/features.py): the same values as computing them at load, and
computed again when the code that defines them changes."""

from __future__ import annotations

import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_letta.agent.ports import PassageTexts, PassageVectors
from voice_letta.agent.recall import features as F
from voice_letta.agent.recall import speakers as S
from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.build import build_index, stored_terms
from voice_letta.agent.recall.confidence import third_person
from voice_letta.agent.recall.cues import cues
from voice_letta.agent.recall.quantity import ADDRESS, AMOUNT, ANY, MONEY, PHONE, number_kinds
from voice_letta.agent.recall.questions import asks_unanswered

LINES = ["user: actually make that thursday", "user: im down to one eighty two now", "user: im at home now",
         "assistant: careful with your knee, you know what happened", "Caroline: I moved to Denver",
         "a note about the user\nuser: two lines", "user: we pushed the wedding back to September",
         "user: my flight leaves at 7:40", "no label at all", "", "user: wait no sorry its tuesday",
         "user: what did I say the door code was?\nassistant: Let me check. [cut off]"]


def _expected(texts: list[str], synopses: list[str]) -> list[tuple[bool, ...]]:
    corr, cue, strong = cues(texts)
    num = number_kinds([f"{s}\n{t}" for t, s in zip(texts, synopses, strict=True)])
    return [(S.is_dialogue_line(t), S.addresses_listener(t), bool(num[i] & ANY), bool(corr[i]), bool(cue[i]),
             bool(strong[i]), third_person(t, synopses[i]), bool(num[i] & AMOUNT), bool(num[i] & MONEY),
             bool(num[i] & PHONE), bool(num[i] & ADDRESS), asks_unanswered(t)) for i, t in enumerate(texts)]


def _bits(flags: int) -> tuple[bool, ...]:
    return tuple(bool(flags & b) for b in (F.DIALOGUE, F.TO_LISTENER, F.HAS_NUMBER, F.CORRECTION, F.UPDATE_CUE,
                                           F.STRONG_CUE, F.THIRD_PERSON, F.HAS_AMOUNT, F.HAS_MONEY, F.HAS_PHONE,
                                           F.HAS_ADDRESS, F.ASKS))


def test_stored_flags_and_terms_are_what_the_functions_say() -> None:
    synopses = ["", "", "", "", "", "The user's rent is 1,900.", "", "", "", "", "", ""]
    want = _expected(LINES, synopses)
    for text, synopsis, expected in zip(LINES, synopses, want, strict=True):
        decoded = F.decode_passage(F.encode_passage(text, synopsis))
        assert decoded is not None
        flags, terms = decoded
        assert _bits(flags) == expected
        assert terms.tolist() == T.term_ids(T.passage_document(text, synopsis))
    assert any(any(w) for w in want) and not all(all(w) for w in want)  # the lines exercise both values


_PIECES = st.sampled_from([*"ab 7:\n", "now", "you", "my", "actually ", "user: ", "moved", "two", "wait no ", "É",
                           " fifth ", " may ", "$", " quid", " hundred ", " 25th", " road", "what ", "?",
                           "not sure", "[cut off]"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_PIECES, max_size=8), min_size=1, max_size=8))
def test_any_text_stores_the_flags_a_load_would_compute(parts: list[list[str]]) -> None:
    texts = ["".join(p) for p in parts]
    got = F.passage_features(texts, ["syn"] * len(texts))
    assert [_bits(int(f)) for f in got] == _expected(texts, ["syn"] * len(texts))


def _texts(blobs: list[bytes | None]) -> PassageTexts:
    n = len(LINES)
    return PassageTexts(ids=tuple(f"p{i}" for i in range(n)), texts=tuple(LINES), synopses=("",) * n,
                        start_at=tuple(float(i) for i in range(n)), end_at=tuple(float(i) for i in range(n)),
                        terms=tuple(blobs))


def test_blobs_of_other_code_are_computed_again_and_handed_back_to_store() -> None:
    current = [F.encode_passage(t, "") for t in LINES]
    old = T.encode_terms(T.passage_document(LINES[0], ""))  # written before flags were stored
    other = b"vlp" + bytes(5) + current[1][8:]  # written by other flag rules: another fingerprint
    blobs: list[bytes | None] = [old, other, None, *current[3:]]
    terms, flags, missing = stored_terms(_texts(blobs))
    assert [pid for pid, _ in missing] == ["p0", "p1", "p2"]
    assert [blob for _, blob in missing] == current[:3]
    fresh_terms, fresh_flags, none = stored_terms(_texts(list(current)))
    assert none == []
    assert np.array_equal(terms.flat, fresh_terms.flat) and np.array_equal(terms.lengths, fresh_terms.lengths)
    assert np.array_equal(flags, fresh_flags)
    assert flags.tolist() == F.passage_features(LINES, [""] * len(LINES)).tolist()


def test_an_index_built_from_stored_flags_equals_one_computed_at_load() -> None:
    n = len(LINES)
    vectors = np.random.default_rng(0).standard_normal((n, 8)).astype("<f4")
    at = tuple(float(i) for i in range(n))
    loaded = PassageVectors(ids=tuple(f"p{i}" for i in range(n)), vectors=vectors.tobytes(), dim=8, start_at=at,
                            end_at=at, other_models=0)
    stored, _ = build_index(_texts([F.encode_passage(t, "") for t in LINES]), loaded, "m", 8)
    computed, _ = build_index(_texts([None] * n), loaded, "m", 8)
    for name in ("dialogue", "to_listener", "numbers", "correction", "update_cue", "strong_cue", "third_person",
                 "prev"):
        assert np.array_equal(getattr(stored, name), getattr(computed, name)), name
    assert stored.update_cue.any() and stored.to_listener.any() and stored.correction.any()
    assert not stored.vectors.matrix.flags.writeable  # the store's bytes, not a copy
    stored.add(["q"], ["user: one more"], [""], [99.0], [99.0], np.ones((1, 8), dtype=np.float32), [True])
    assert stored.vectors.matrix.flags.writeable and stored.size == n + 1  # an append grows a copy


_PATTERN = re.compile(r"\bnow\b")


def _uses_pattern(text: str) -> bool:
    return _PATTERN.search(text) is not None


def test_the_fingerprint_follows_the_patterns_and_functions_the_flags_read() -> None:
    global _PATTERN
    before = F._fingerprint([_uses_pattern])
    assert F._fingerprint([_uses_pattern]) == before
    saved = _PATTERN
    try:
        _PATTERN = re.compile(r"\bnow\b|\btoday\b")
        assert F._fingerprint([_uses_pattern]) != before
    finally:
        _PATTERN = saved
    assert F.PASSAGE_MAGIC.startswith(b"vlp") and len(F.PASSAGE_MAGIC) == 8
    # the flag functions are part of it: another number rule would mean another magic
    assert F._fingerprint([number_kinds]) != F._fingerprint([cues])
