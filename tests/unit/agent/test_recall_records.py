"""Markdown notes as records (recall/records.py): list items, their keys and values, and list keys as no speakers."""

from __future__ import annotations

import numpy as np

from voice_letta.agent.recall import speakers as S
from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.facts import Query
from voice_letta.agent.recall.index import PassageIndex
from voice_letta.agent.recall.quantity import DAY, MONEY, PHONE
from voice_letta.agent.recall.records import asked, asks_who, changed, items, new_value, other_holder

NOTE = ("## Loft conversion\n- Builder: Carver & Daughters (Ruth Carver)\n- Budget: £52,000 all in\n"
        "- Start: March 3\n- [ ] pick the windows")


def test_list_items_with_keys_values_and_kinds() -> None:
    found = items(NOTE)
    assert len(found) == 4
    builder, budget, start, todo = found
    assert builder.key == frozenset(T.term_ids("builder")) and builder.person
    assert budget.kinds & MONEY and not budget.person
    assert start.kinds & DAY and not start.person  # a month is no name
    assert not todo.key and todo.terms == frozenset(T.term_ids("pick the windows"))
    phone = items("## Boiler\n- Engineer: Tom Bright, 07700 900123\n- Next: power flush")[0]
    assert phone.kinds & PHONE and phone.person
    assert items("user: the plumber is dave") == () and items("Kitchen: we swapped the quartz") == ()


def test_a_list_key_is_no_speaker() -> None:
    assert S.speakers(NOTE) == ()
    assert S.speakers("* Plumber: Dave Ruiz\n1. Budget: $3,000\n- [x] countertop: quartz") == ()
    assert S.speakers("user: hi\nDr Patel: hello") == ("user", "dr patel")
    assert not S.is_dialogue_line("- Plumber: Dave Ruiz")
    # a note opening with a Markdown heading has keys, not speakers ("Speaker 1: hello" is still a speaker's line)
    note = "## Bathroom\nPlumber: Dave Ruiz, 312-555-0147\nNext: regrout the shower"
    assert S.speakers(note) == () and [bool(i.key) for i in items(note)] == [True, True]


def test_who_questions() -> None:
    assert asks_who("Who is doing the kitchen?") and asks_who("Which firm did we hire?")
    assert not asks_who("What's the kitchen budget?")


def _index(texts: list[str]) -> PassageIndex:
    index = PassageIndex("m", 4)
    n = len(texts)
    vectors = np.eye(n, 4, dtype=np.float32)
    index.add([f"p{i}" for i in range(n)], texts, [""] * n, [float(i) for i in range(n)], [float(i) for i in range(n)],
              vectors, [True] * n)
    return index


def test_the_items_a_question_asks_and_a_later_note_changes() -> None:
    index = _index([NOTE, "## Money\n- Loft budget raised to £55,500 (steel + blinds)",
                    "## Loft\n- Carver can't begin until March 17: still on another job",
                    "## Garden\n- Shed quote: Hartley Sheds £1,900, larch\n- Council ok needed",
                    "## Garden\n- Hartley re-quoted £1,650 for spruce, we said yes.",
                    "## Garden\n- Hartley fitted the gutter"])
    record = index.items[0]

    def query(question: str) -> Query:
        return Query.of(T.query_terms(question), np.zeros(index.size), question)

    who, budget = query("Who is doing the loft?"), query("What's the loft budget?")
    when = query("When does the loft start?")
    assert asked(record, who, who.who) == {0} and asked(record, budget, False) == {1}
    assert asked(record, when, False) == {2}
    # the budget note names the key "budget": it changes the budget, not the builder
    assert changed(index, record, 1, set(), who) == {1}
    # the delay names the builder's value ("Carver") and gives a day: for a when-question, the start too
    assert changed(index, record, 2, set(), when) == {0, 2}
    # a later note naming the holder and giving a sum is a new value of the quote; one with no sum is not
    shed, cost = index.items[3], query("How much is the shed going to cost?")
    assert new_value(index, shed, 4, set(), cost, False)
    assert not new_value(index, shed, 5, set(), cost, False)


def test_a_chat_exports_message_record_is_read_from_what_it_says() -> None:
    # its fields are an envelope (sender, dates, ids), not one holder's attributes: a later member's message is no
    # "other thing of the same kind"
    rent = ('{"id": 4407, "type": "message", "date": "2026-11-16T10:02:17", "from": "Oksana Kovalenko", '
            '"from_id": "user112472425", "text": "Rent goes to the PrivatBank card ending 4417 from now on"}')
    other = ('{"id": 4456, "type": "message", "date": "2026-11-26T09:15:17", "from": "Taras Melnyk", '
             '"from_id": "user109209797", "text": "Heads up, rent goes to the Monobank card 5375 from December"}')
    assert items(rent) == () and items(other) == ()
    assert not other_holder(items(rent), items(other))
    # a record that is no message keeps its fields (an app's appointment: no sender)
    appointment = '{"kind": "appointment", "with": "Ines", "date": "2026-12-09", "where": "Rua Augusta 12"}'
    assert len(items(appointment)) == 4
