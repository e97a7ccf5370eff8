"""recall/languages.py: everyday words of the languages users mix with English, both ways, and their time words."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.foreign_times import english_times
from voice_letta.agent.recall.languages import _ENGLISH, GROUPS
from voice_letta.agent.recall.synonyms import expand
from voice_letta.agent.recall.timewords import names_no_topic, window_for


def test_no_word_of_the_table_is_a_common_english_word() -> None:
    for plain, words, extras, _ in GROUPS:
        english = set(plain.split())
        for word in [*words, *extras]:
            if " " in word:  # a phrase is matched whole ("leaving do")
                continue
            for part in T.words(word):
                assert part in english or part not in _ENGLISH, (plain, word)
            for term in T.terms(word):  # what the keyword half searches: "après-midi" was "apr", "maw'id" "id"
                assert term in english or (term not in _ENGLISH and len(term) >= 2), (plain, word, term)


def test_a_word_starts_one_group_only() -> None:
    seen: dict[str, str] = {}
    for plain, words, _, _ in GROUPS:
        for word in words:
            assert seen.setdefault(word, plain) == plain, word


@pytest.mark.parametrize(("question", "added"), [
    ("When is my dentist appointment?", {"cita", "termin", "dentista", "zahnarzt"}),
    ("Which train is my brother on?", {"tren", "zug", "frère", "bruder"}),
    ("What's our rent?", {"alquiler", "loyer", "miete", "upa"}),
    ("What is happening on Thursday?", {"jueves", "jeudi", "donnerstag", "huwebes"}),
])
def test_an_english_question_adds_the_other_languages_words(question: str, added: set[str]) -> None:
    extra = expand(question)
    assert extra is not None and added <= set(extra.keywords.split())


@pytest.mark.parametrize(("question", "dense", "added"), [
    ("¿Cuándo es mi cita?", "¿cuándo es mi appointment?", "appointment"),
    ("Wann kommt der Klempner?", "wann kommt der plumber?", "plumber"),
    ("Who did I get for amigo secreto?", "who did i get for secret santa?", "santa"),
    ("When is the medecin coming?", "when is the doctor coming?", "doctor"),  # typed without its accent
])
def test_another_languages_word_reads_as_english(question: str, dense: str, added: str) -> None:
    extra = expand(question)
    assert extra is not None and extra.dense == dense and added in extra.keywords.split()


def test_an_english_number_or_homograph_starts_nothing() -> None:
    assert expand("Who are the two people I met once?") is None  # "two": one way; "once": English
    extra = expand("¿Cuántos boletos, tres?")
    assert extra is not None and "three" in extra.keywords.split()


@pytest.mark.parametrize(("question", "days_ago"), [
    ("¿Qué te dije ayer?", 1), ("What did I say hier?", 1), ("Was habe ich dir gestern gesagt?", 1),
    ("ano sinabi ko kahapon?", 1), ("What did I tell you el martes?", None),
])
def test_time_words_of_other_languages_open_their_window(question: str, days_ago: int | None) -> None:
    now = datetime(2026, 12, 3, 15, 0, tzinfo=ZoneInfo("UTC"))  # a Thursday
    window = window_for(question, now=now.timestamp(), tz="UTC")
    assert window is not None and window.start_at is not None and names_no_topic(question)
    back = days_ago if days_ago is not None else 2  # the Tuesday before
    assert window.start_at == (now.replace(hour=0) - timedelta(days=back)).timestamp()


def test_english_times_leaves_english_alone() -> None:
    assert english_times("what did the dog eat on monday?") == "what did the dog eat on monday?"
    assert english_times("el 11 de diciembre") == "11 december"
