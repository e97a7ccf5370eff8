"""A change said only in another language's words (recall/cues.py ``foreign_cues``, recall/cued.py): it updates the
passage it is most alike of all when the two name the same thing, not a line it is alike only by its language."""

from __future__ import annotations

from tests.unit.agent.cosine_index import ranked as rank_top3
from voice_letta.agent.recall.cues import cues, foreign_cues


def test_a_change_in_another_language_only_is_flagged_apart() -> None:
    texts = ["Liberty vino y cambiaron el router. red ahora es RiveraCasa", "gym ka ladies slot badal gaya, ab 6 baje",
             "we moved the party to friday, cambiaron todo", "la mamma viene a cena"]
    _, cue, _ = cues(texts)
    assert foreign_cues(texts, cue).tolist() == [True, True, False, False]  # the third has an English cue


def test_a_spanish_change_of_the_wifi_goes_before_the_line_it_changes() -> None:
    # "cambiaron el router. red ahora es RiveraCasa" is 0.64 alike the wifi line and 0.13 to the question (it says no
    # word of it in English): no English cue, so it was never linked, and the old network ranked first (test15)
    texts = ["wifi nuevo de Liberty: red CasaRivera5G, password coquí2024!",
             "LISTA: arroz Goya 10 lb, habichuelas rosadas, pan sobao",
             "Liberty vino y cambiaron el router. red ahora es RiveraCasa, password nuevo guayaba77"]
    ranked = rank_top3(texts, {(0, 2): 0.64, (0, 1): 0.2, (1, 2): 0.2}, [0.40, 0.05, 0.13],
                     "What's the wifi network called?")
    assert ranked.index("p2") < ranked.index("p0")


def test_a_change_alike_a_line_only_by_its_language_does_not_replace_it() -> None:
    # the gym slot's change is most alike the aunt's operation (0.48, both Roman Urdu) but shares only the language's
    # small words with it ("ka", "hai", said by most lines): it replaced the hospital before (test12)
    texts = ["Khala Nasreen ka bypass operation hai 12 December ko, Aga Khan Hospital mein",
             "Ammi ka phone hai, shaam ko baat karo", "Chachu ka ghar Clifton mein hai",
             "Bhai ka exam kal hai", "gym ka ladies slot badal gaya, ab 6 baje hai, 7 nahi"]
    ranked = rank_top3(texts, {(0, 4): 0.48, (1, 4): 0.1, (2, 4): 0.1, (3, 4): 0.1}, [0.40, 0.05, 0.05, 0.05, 0.11],
                     "Which hospital is my aunt having her operation at?")
    assert ranked[0] == "p0" and "p4" not in ranked[:1]
