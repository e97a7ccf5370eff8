"""Revision notations read as "old → new" whatever the app and language (recall/cues.py ``revised_values``)."""

from __future__ import annotations

from voice_letta.agent.recall.cues import revised_terms, revised_values
from voice_letta.agent.recall.text import term_ids


def test_the_old_side_of_arrows_diff_pairs_and_struck_values() -> None:
    assert [old for old, _ in revised_values("Suggestion accepted: Hotel: Casa Azul, Mérida → Hotel Boutique 53")] == [
        "Casa Azul, Mérida"]
    assert [old for old, _ in revised_values("Train: 07:40 -> 09:10")] == ["07:40"]
    assert [old for old, _ in revised_values("Kommentar (Jonas): zu teuer\n- Rental car: Sixt, EUR 310\n"
                                             "+ Rental car: Buchbinder, EUR 240")] == ["Rental car: Sixt, EUR 310"]
    assert [old for old, _ in revised_values("pickup ~~Monday~~ Wednesday")] == ["Monday"]
    # a list of bullets is no removed line followed by an added one
    assert revised_values("- eggs\n- flour\n- milk") == []
    assert revised_values("we meet at the cafe at 10") == []


def test_a_lone_number_names_nothing_and_the_lines_say_the_item() -> None:
    assert revised_terms("guests 40 -> 46") is not None  # "guests 40": a word and a number
    assert revised_terms("x: 5 -> 6") is None
    found = revised_terms("Venue: Old Mill -> Boathouse")
    assert found is not None
    old, lines = found
    assert old == frozenset(term_ids("Old Mill")) and frozenset(term_ids("venue")) <= lines
