"""recall/carried.py: whether a passage carries a value of the kind a question asks for (an identifier, an outcome,
an attribute of a holder it names); and the readings beside it (a month said as a possessive is a name, a role asked
as a verb, a clock time that is a place's or a date's number, one digit of a course code). Facts written for these
tests."""

from __future__ import annotations

import pytest

from voice_letta.agent.recall.asked import other_sum
from voice_letta.agent.recall.carried import (
    asks_identifier,
    no_identifier,
    only_arranged,
    says_identifier,
    unsaid_attribute,
)
from voice_letta.agent.recall.kinds import other_in_series, other_kind
from voice_letta.agent.recall.quantity import CLOCK, kinds_of_text
from voice_letta.agent.recall.roles import is_role, query_names


@pytest.mark.parametrize(("query", "asks"), [
    ("What's my library card number?", True),
    ("What's the gate code at the allotment?", True),
    ("Which locker number did I get?", True),
    ("What's my student ID?", True),
    ("What's Ola's phone number?", False),  # recall/quantity.py's
    ("What's the wifi password?", False),  # a word will do
    ("How many people are coming?", False),
    ("What's the number of guests?", False),  # a count
    ("What's the dress code for the gala?", False),
    ("Do I have a locker number?", False),  # yes or no
])
def test_what_asks_for_an_identifier(query: str, asks: bool) -> None:
    assert asks_identifier(query) is asks


@pytest.mark.parametrize(("text", "says"), [
    ("my library card is 2290 4471", True),
    ("gate code is 1-9-8-7", True),
    ("seat 14C, boarding at the back", True),
    ("the code's four four one seven", True),
    ("locker is number twelve", True),
    ("permit ref BP-77-1201 in the window", True),
    ("I start on December 14th", False),  # a date
    ("got my library card today, 3 books out already", False),  # a count
    ("the deposit was $450.00", False),  # money
    ("class is at 7:30 on the 3rd floor", False),  # a time and an ordinal
    ("moved in on 04/12/2026 with two suitcases", False),
])
def test_what_says_an_identifier(text: str, says: bool) -> None:
    assert says_identifier(text) is says


def test_an_identifier_asked_and_only_a_date_said_is_no_answer() -> None:
    assert no_identifier("What's my staff number at the Royal Infirmary?",
                         "HR rang, I start at the Royal Infirmary on March 3rd instead of April")
    assert not no_identifier("What's my staff number at the Royal Infirmary?",
                             "my staff number at the Royal Infirmary is 448812")


@pytest.mark.parametrize(("query", "text", "arranged"), [
    ("What were my blood test results?", "Tue 3 Mar - blood test booked for Fri 13 March, 8:30", True),
    ("What did the scan show?", "hospital rang: scan moved to Monday the 9th at 2pm", True),
    ("How did the audition go?", "audition rescheduled to next Thursday at four", True),
    ("What were my blood test results?", "blood test results came back normal, iron a bit low", False),
    ("What did the scan show?", "scan on Monday showed a small tear, follow-up on the 20th", False),
    ("What did the scan show?", "hospital rang: the scan is fine, nothing to worry about", False),  # a result
    ("What were my blood test results?", "feeling tired all week, the doctor wants a blood test", False),  # no day
    ("What were my blood test results?", "the car's MOT is booked for Friday", False),  # the event not named
    ("When is my scan?", "hospital rang: scan moved to Monday the 9th at 2pm", False),  # no outcome asked
])
def test_an_outcome_asked_of_an_event_only_arranged(query: str, text: str, arranged: bool) -> None:
    assert only_arranged(query, text) is arranged


def test_an_attribute_of_a_holder_the_passage_names_alone() -> None:
    def known(_: int) -> bool:
        return True

    assert unsaid_attribute("What was Deloitte's offer?", "Deloitte rang, they picked someone else", set(), known)
    assert not unsaid_attribute("What was Deloitte's offer?", "Deloitte's offer is 64k with a 5k bonus", set(), known)
    # a place named only with its possessive: the kind of place is said two ways ("Rosie's bar" / "Rosie's pub")
    assert not unsaid_attribute("What beer does Rosie's bar serve?", "we ended up at Rosie's pub", set(), known)
    # an attribute the memory never says is not judged (it may be said in other words)
    assert not unsaid_attribute("What was Deloitte's offer?", "Deloitte rang, they picked someone else", set(),
                                lambda _: False)


def test_a_month_said_as_a_possessive_is_a_name() -> None:
    assert query_names("What's April's swimming day?") == [["april"]]
    assert query_names("What's the plan for April?") == []
    assert query_names("What time is Saturday's match?") == []


def test_a_role_asked_as_a_verb() -> None:
    assert is_role("coaches")
    assert is_role("coach")
    assert not is_role("classes")


def test_a_place_or_a_date_after_at_or_from_is_no_clock_time() -> None:
    assert not kinds_of_text("the office is at one-north, we start from 5 January") & CLOCK
    assert kinds_of_text("meet at 7-ish by the gate") & CLOCK
    assert kinds_of_text("from nine till five") & CLOCK


def test_a_sum_of_another_kind_said_as_base_pay() -> None:
    assert other_sum("How much is my bonus at Arup?", "my base at Arup is 52 thousand plus overtime")
    assert not other_sum("What's my salary at Arup?", "my base at Arup is 52 thousand plus overtime")


def test_another_course_of_the_same_series() -> None:
    memory = {"ec2101", "ec1301"}
    assert other_in_series("What did I get for EC2102?", "marks out: B for EC2101", memory.__contains__)
    assert other_in_series("What did I get for EC2201?", "marks out: B for EC2101", memory.__contains__)
    assert not other_in_series("What did I get for EC2101?", "marks out: B for EC2101", memory.__contains__)
    assert not other_in_series("What did I get for EC5555?", "marks out: B for EC2101", memory.__contains__)


def test_washers_are_not_dryers() -> None:
    assert other_kind("How much are the washers?", "the dryers take $2.25, card only")
    assert not other_kind("How much are the washers?", "washers are $3, dryers $2.25")
