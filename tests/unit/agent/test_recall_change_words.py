"""recall/change_words.py + inflections.py: other languages' change words, read in their inflected forms."""

from __future__ import annotations

import re

import pytest

from voice_letta.agent.recall.change_words import CHANGE_WORDS, WEAK_CHANGE_WORDS, words_of
from voice_letta.agent.recall.inflections import LANGUAGES, pattern, suffixes

STRONG = re.compile(CHANGE_WORDS, re.IGNORECASE)
WEAK = re.compile(WEAK_CHANGE_WORDS, re.IGNORECASE)


@pytest.mark.parametrize("text", [
    "Avianca canceló el vuelo, me pasaron al de las 7",  # Spanish preterite of "cancelar"
    "la reunión la cancelaron",
    "o almoço foi remarcado pra 12h30",  # Portuguese participle of "remarcar"
    "la degustazione è spostata a venerdì",  # Italian feminine participle of "spostare"
    "die Weihnachtsfeier wurde verschoben",
    "Termin abgesagt",
    "wizyta odwołana, lekarz chory",  # Polish feminine participle of "odwołać"
    "концерт перенесли на пятницу",
    "встречу отменили",
    "la cena è annullata",
    "gaat niet door vanwege de regen",
    "嫲嫲壽宴改咗 20號",  # no spaces around a Chinese word
    "약속 취소됐어",  # a Korean word with its particle
    "Si tita baby na lang ang kukuha",
])
def test_a_change_is_read_in_its_inflected_forms(text: str) -> None:
    assert STRONG.search(text), text


@pytest.mark.parametrize("text", [
    "I read the report and it is correct",
    "we watched a movie about the transfer window",
    "the alternative is maintenance on Monday",
    "the cancelation policy",  # English words are English cues' business (cues.py), not re-read here
    "she is a reporter at the Nova times",
    "Mover company quote, cambridge trip",
])
def test_english_words_are_no_other_language_change(text: str) -> None:
    assert not [m.group(0) for m in STRONG.finditer(text) if m.group(0).lower() not in {"cancel"}], text


def test_now_and_new_are_weak_only() -> None:
    assert WEAK.search("a chave agora está com o seu Jorge") and not STRONG.search("a chave agora está com o seu Jorge")
    assert WEAK.search("das ist die neue Adresse") and WEAK.search("而家 8 圍")


def test_every_word_of_the_table_is_read_by_its_own_language() -> None:
    for weak in (False, True):
        regex = WEAK if weak else STRONG
        for code, words in words_of(weak).items():
            for word in words:
                said = word.lstrip("=")
                assert regex.search(f"x {said} x"), (code, word)
                if code in LANGUAGES:
                    assert re.fullmatch(pattern([word], code), said), (code, word)


def test_the_endings_are_the_stemmers_own() -> None:
    assert "aron" in suffixes("es") and "ли" in suffixes("ru") and all(s == s.lower() for s in suffixes("fr"))
