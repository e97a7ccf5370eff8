"""A colour said anew with no change word (recall/updates.py ``_gives_anew``): for a question asking a colour, the
lines of one holder that each say a colour are versions of it, newest first, however little alike their wording."""

from __future__ import annotations

from tests.unit.agent.cosine_index import ranked as rank_top3


def test_a_colour_changed_twice_without_a_change_word_ranks_the_newest_first() -> None:
    # the order, then "rather have it in black", then "green please": 0.30 and 0.40 alike the order, no cue word; the
    # order ranked first (test16)
    texts = ["Customer order: Mrs Holm, green Christiania box bike, deposit kr 2.000 paid",
             "Larry vs Harry: ordered 3 Bullitt cargo bikes for the Christmas rush",
             "Mrs Holm rang, she'd rather have it in black after all. Christiania says black is 3 weeks longer",
             "Sofie part-time Mon + Wed 12-18, Mads full time, closed Sundays",
             "Mrs Holm again: green please, it comes sooner. Christiania fine with it"]
    ranked = rank_top3(texts, {(0, 2): 0.30, (0, 4): 0.40, (2, 4): 0.63, (0, 1): 0.3},
                     [0.66, 0.2, 0.47, 0.05, 0.44], "What colour box bike does Mrs Holm want?")
    assert ranked[0] == "p4"


def test_colours_of_two_holders_sharing_only_a_common_word_are_not_versions() -> None:
    # the bike is said by most lines: it names no holder; Mr Berg's red bike is no newer version of Mrs Holm's
    texts = ["Mrs Holm wants the green box bike", "bike service for Jens, new chain", "bike rack fixed",
             "sold two bikes today, bike stand restocked", "bike lights on sale",
             "Mr Berg wants a red cargo bike"]
    ranked = rank_top3(texts, {(0, 5): 0.45}, [0.66, 0.1, 0.1, 0.1, 0.1, 0.40], "What colour bike does Mrs Holm want?")
    assert ranked[0] == "p0"
