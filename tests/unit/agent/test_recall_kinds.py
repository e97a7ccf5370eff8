"""recall/kinds.py: another thing of the same kind; and recall/values.py's records, whose fields are one item."""

from __future__ import annotations

import pytest

from voice_letta.agent.recall.kinds import other_in_series, other_kind
from voice_letta.agent.recall.values import other_item


@pytest.mark.parametrize(("query", "text"), [
    ("Which bus do I take to the airport?", "the 6:40 train to Gatwick, then a taxi to departures"),
    ("When is Amir's mehndi?", "amir's walima is on the 14th at the Hilton"),
    ("What was my cholesterol at the last check?", "my blood pressure was 130 over 85 at the last check"),
    ("When is the glass collected?", "recycling goes out on tuesdays, general waste on fridays"),
    ("What colour are the bedroom curtains?", "## Living room\n- Curtains: olive velvet, ordered from Dunelm"),
    ("What's the van's registration?", "booked the van into the garage for tuesday, ref GX-2210"),
    ("What time is Ivy's netball?", "ivy's swimming is saturdays at nine at the leisure centre"),
    ("What time is check-out at the hotel?", "Your stay is now 2 nights. Breakfast included. Check-in from 15:00."),
])
def test_another_member_of_the_family_is_no_answer(query: str, text: str) -> None:
    assert other_kind(query, text)


@pytest.mark.parametrize(("query", "text"), [
    ("Which bus do I take to the airport?", "the X26 bus from the station, every twenty minutes"),
    ("Which bus do I take to the airport?", "switched from the train to the bus, the X26"),  # both said
    ("Do I take the bus to the airport?", "the 6:40 train to Gatwick"),  # yes/no: the train answers it
    ("Bus or train to the airport?", "the 6:40 train to Gatwick"),
    ("How do I get to the airport?", "the 6:40 train to Gatwick"),  # no member asked
    ("When is Amir's wedding?", "amir's walima is on the 14th at the Hilton"),  # the family's name, no member
    ("What is my blood pressure?", "my blood pressure was 130 over 85 at the last check"),
    ("What colour are the bedroom curtains?", "curtains are olive velvet, ordered from Dunelm"),  # no room said
    ("What time is check-out at the hotel?", "Check-in from 15:00, check out by 11"),
])
def test_the_asked_member_said_or_none_of_the_family_is_not_judged(query: str, text: str) -> None:
    assert not other_kind(query, text)


def test_a_records_fields_are_one_item() -> None:
    record = "---\nkind: bill\nhome: the cottage\nbill: broadband\nprovider: Glen Fibre\nmonthly: 42.00"
    assert not other_item("How much is the broadband at the cottage?", record, lambda _: 1.0)
    service = "---\nkind: service\nwhat: chimney sweep\ncompany: Sootbusters\ndate: 2027-01-12\nslot: 09:00-12:00"
    assert not other_item("When is the chimney sweep?", service, lambda _: 1.0)
    # a Markdown list keeps one thing a line: its "Key: value" items are not a record's fields
    notes = "## Bathroom\n- Plumber: Dave Ruiz, 312-555-0147\n- Leak fixed 11/20, $240\n- Next: regrout the shower"
    assert other_item("How much did the shower regrout cost?", notes, lambda _: 1.0)


def test_another_of_the_same_series() -> None:
    memory = {"u10", "q3", "falcons"}

    def said(term: str) -> bool:
        return term in memory

    assert other_in_series("What colour are the U12 jerseys?", "new jerseys! Falcons are navy this year", said)
    assert not other_in_series("What colour are the U12 jerseys?", "the U12 jerseys are red", said)  # said
    assert not other_in_series("What colour are the U10 jerseys?", "new jerseys! Falcons are navy", said)  # no other
    assert other_in_series("What was cut after the Q4 review?", "ad spend cut after the review", said)
    assert not other_in_series("What colour are the U16 jerseys?", "new jerseys! navy", said)  # no neighbour said
