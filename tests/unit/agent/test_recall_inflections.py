"""recall/inflections.py in the synonyms table: a table word is read in its inflected forms, English words are not."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.inflections import ENGLISH_ENDINGS, forms, stem
from voice_letta.agent.recall.keyword import KeywordIndex
from voice_letta.agent.recall.synonyms import _TRIGGER, _said, expand
from voice_letta.agent.recall.timewords import dated_ranges


def test_forms_are_those_the_stemmer_reduces_to_the_word_with_no_english_ending() -> None:
    assert {"врача", "врачу", "врачом"} <= set(forms("врач", "ru"))
    assert {"lekarza", "lekarzem"} <= set(forms("lekarz", "pl"))
    for word, code in (("врач", "ru"), ("lekarz", "pl"), ("médico", "it"), ("afspraak", "nl")):
        s = stem(word, code)
        for form in forms(word, code):
            assert stem(form, code) == s and form[len(s):] not in ENGLISH_ENDINGS, (word, form)
    assert forms("cita", "es") == ()  # a plain three-letter stem: its forms are written out in the table ("citas")
    assert forms("dentist", "en") == ()  # no stemmer here for the language


@pytest.mark.parametrize(("question", "plain"), [
    ("Когда у меня приём у врача?", "doctor"),
    ("Kiedy mam wizytę u lekarza?", "doctor"),
    ("Когда вечеринку устраивают?", "party"),
])
def test_a_question_that_says_an_inflected_form_is_read_as_its_english_word(question: str, plain: str) -> None:
    extra = expand(question)
    assert extra is not None and plain in T.words(extra.dense), (question, extra)


@pytest.mark.parametrize("question", [
    "Can you compare the two quotes?", "Did Julia make a profit on the flat?", "What did Marta compute?",
    "Where is the silver salsa bowl?", "What did Kiran say about the rental?",
])
def test_english_words_and_names_are_no_inflected_forms(question: str) -> None:
    assert all(word in _TRIGGER for _, _, word, _ in _said(question.lower())), question


def test_known_tells_which_term_ids_have_postings_base_and_delta() -> None:
    index = KeywordIndex()
    index.add([T.terms("записалась к врачу"), T.terms("the plumber is coming")])
    index.add([T.terms("wizytę u lekarza")])  # one row: the delta
    ids = np.array([T.term_id(t) for t in ("врачу", "lekarza", "врача", "plumber")], dtype=np.uint64)
    assert index.known(ids).tolist() == [True, True, False, True]
    assert KeywordIndex().known(ids).tolist() == [False] * 4


@pytest.mark.parametrize("question", [
    "¿Qué pasó el 3 de octubre de 2023?", "Was war am 3. Oktober 2023?", "cosa è successo il 3 ottobre 2023?",
    "le 3 octobre 2023", "Что было 3 октября 2023?", "co było 3 października 2023", "what happened on 3 October 2023",
])
def test_a_date_with_its_year_in_another_language_is_read(question: str) -> None:
    ranges = dated_ranges(question)
    assert len(ranges) == 1 and ranges[0][0] < datetime(2023, 10, 3, tzinfo=UTC).timestamp() < ranges[0][1], question
    assert dated_ranges("en octubre de 2023")[0][0] < datetime(2023, 10, 15, tzinfo=UTC).timestamp()
