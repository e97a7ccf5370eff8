"""Labels that are no speakers (recall/speakers.py): a list's label that names a thing or a slot ("Bed 9 Sharma:",
"H3:", "carpool escuela:") is the line's subject, not its sender."""

from __future__ import annotations

from voice_letta.agent.recall.speakers import is_dialogue_line, speakers, user_lines


def test_a_number_or_a_short_code_in_a_label_names_a_thing_not_a_speaker() -> None:
    for line in ("Bed 9 Sharma: diabetes educator saw him, Optisulin up to 24 units", "H3: nuc from Ben Walsh",
                 "1/1 viewing Saturday: two nurses", "HOTEL 2: Porto, 3 nights"):
        assert speakers(line) == () and not is_dialogue_line(line), line
    assert speakers("mike92: on my way") == ("mike92",)  # a handle's digits sit in a longer word
    assert speakers("Speaker 1: hello\nGuest 2: hi") == ("speaker 1", "guest 2")  # a transcript numbers people
    assert speakers("Dr Patel: hello\nDev: ok") == ("dr patel", "dev")


def test_a_lower_case_heading_opening_a_note_is_no_speaker() -> None:
    for line in ("carpool escuela: Rafa lleva lunes/miércoles, yo martes", "league playoffs: first round Dec 12"):
        assert speakers(line) == () and not is_dialogue_line(line), line
    assert speakers("marco: on my way") == ("marco",)  # one word: a handle
    # inside a message under its sender's line it is still someone else's
    assert speakers("[11/23/2026 9:51 PM] priya_dm\nloot recap: Vesper got the shard") == ("loot recap",)


def test_a_capital_stopword_beside_a_name_is_an_abbreviation() -> None:
    # a shift's handover line: "AM" is the morning shift, not the verb
    assert speakers("AM (Linh): waiting room wifi is clinic2026") == ("am (linh)",)
    assert speakers("PM (Thảo): lab pickup by the courier 4pm") == ("pm (thảo)",)
    for line in ("CHANGE OF PLAN: we meet at 6", "Change of plan: we meet at 6",  # headings stay headings
                 "practice moved AGAIN: Mon/Wed 5-6:30 at Palolo"):  # a word said loud
        assert speakers(line) == (), line


def test_the_users_lines_of_an_exchange_with_the_assistant() -> None:
    text = "user: my rent here is going up\nlandlord wants 52k\nassistant: Nice work. That is a lot.\nuser: yeah"
    assert user_lines(text) == "my rent here is going up\nlandlord wants 52k\nyeah"
    assert user_lines("Ana: my rent is going up\nTom: oh no") is None  # two named people: no exchange with the agent
    assert user_lines("user: my rent is going up") is None  # no reply
