"""recall/carried.py: whether a passage carries a value of the kind a question asks for (an identifier, an outcome,
an attribute of a holder it names); and the readings beside it (a month said as a possessive is a name, a role asked
as a verb, a clock time that is a place's or a date's number, one digit of a course code). Facts written for these
tests."""

from __future__ import annotations

import pytest

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.asked import other_sum
from voice_letta.agent.recall.carried import (
    asks_identifier,
    no_end,
    no_identifier,
    only_arranged,
    other_code,
    says_identifier,
    time_of_other_verb,
    unsaid_attribute,
    unsaid_kind,
)
from voice_letta.agent.recall.kinds import other_in_series, other_kind
from voice_letta.agent.recall.quantity import AMOUNT, CLOCK, DAY, MONEY, PHONE, asked_kind, kinds_of_text
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


def test_an_hour_after_a_time_word_is_no_identifier() -> None:
    text = "the cottage is booked, key box by the door, arrive after 4 on the 12th, the owner texts the code on the day"
    assert no_identifier("What's the key box code?", text)
    assert says_identifier("the key box code is 4 7 1 9, arrive after 4")
    assert says_identifier("locker 12 at the leisure centre")  # no time word before it: a number of something


@pytest.mark.parametrize(("query", "text", "missing"), [
    ("What time does Ana's swim practice end?", "swim practice moved to Thursday 17:30 at the Aquatic Centre", True),
    ("What time does Ana's swim practice end?", "swim practice Thursday 17:30-19:00", False),
    ("What time does the market close?", "the market is on Saturdays from 8 till 1", False),
    ("What time does the gala finish?", "gala starts at 7, carriages at 11:30, finish by midnight", False),
    ("What time does nursery let out?", "nursery pick-up is 15:15 now", False),
    ("What time does the party start?", "party Saturday 18:00 at Yoni's", False),  # not an end
    ("What time does the workshop end?", "workshop booked 2026-03-14 09:30", True),  # a date is no range
])
def test_an_end_asked_needs_an_end_said(query: str, text: str, missing: bool) -> None:
    assert no_end(query, text) is missing


@pytest.mark.parametrize(("query", "text", "missing"), [
    ("When is Omar's birthday?", "Omar has football on Saturday at 10, bring shin pads", True),
    ("When is Omar's birthday?", "Omar turns 9 on the 3rd of May", False),
    ("When is Omar's birthday?", "omar's bday is may 3", False),
    ("When is Omar's birthday?", "party for his ninth on Saturday", False),
    ("When is Omar's birthday?", "urodziny Omara w sobotę", False),  # in another language
    ("When is Omar's birthday party?", "the party for Omar moved to Sunday 3pm", False),  # the party is asked
    ("What floor is the dentist on?", "dentist moved to the Westgate building on Monday", True),
    ("What floor is the dentist on?", "dentist is on the 4th floor of Westgate House", False),
    ("What floor is the dentist on?", "the dentist is upstairs from the pharmacy", False),
    ("What's my Steam username?", "my Steam library hit 200 games, wishlist is huge", True),
    ("What's my Steam username?", "steam handle is quietfox", False),
    ("What's my Steam username?", "on steam I'm @quietfox", False),
])
def test_a_thing_said_only_with_its_own_words(query: str, text: str, missing: bool) -> None:
    assert unsaid_kind(query, text) is missing


@pytest.mark.parametrize(("query", "text", "other"), [
    ("What time does the bakery open?", "the bakery wants the delivery at 6 now because they open earlier", True),
    ("What time does the bakery open?", "the bakery opens at 6 now, so the delivery is at 5:30", False),
    ("What time does the bakery open?", "delivery at 6. The bakery opens earlier in summer.", False),  # not joined
    ("What time does the bakery open?", "the bakery wants the delivery at 6", False),  # the verb is not said
])
def test_a_time_in_the_clause_of_another_verb(query: str, text: str, other: bool) -> None:
    assert time_of_other_verb(query, text) is other


@pytest.mark.parametrize(("query", "text", "other"), [
    ("What dose of vitamin K2 do I take?", "Started vitamin C 500 mg with breakfast", True),
    ("What dose of vitamin K2 do I take?", "vitamin K2 100 mcg, vitamin C 500 mg", False),
    ("When does the bus from terminal 3 leave?", "the shuttle to terminal 5 runs every 20 minutes", True),
    ("When does the bus from terminal 3 leave?", "the shuttle runs every 20 minutes", False),  # no other said
    ("Which gym did I join?", "I joined the Pure Gym on Mill Road", False),  # "did I": the pronoun is no code
])
def test_another_code_of_the_same_word(query: str, text: str, other: bool) -> None:
    assert other_code(query, text) is other


def test_what_y_is_x_asks_the_holder_x() -> None:
    memory = set(T.term_ids("Lena plays bass in the band. Tom's class is level two."))
    text = "new neighbour Lena moved in upstairs, she works at the library"
    assert unsaid_attribute("What instrument does Lena play?", text, set(), lambda tid: True)
    assert not unsaid_attribute("What instrument does Lena play?", text, set(), lambda tid: tid in memory)
    assert not unsaid_attribute("Which floor is Lena on?", text, set(), lambda tid: True)  # on, in, at: a value
    assert not unsaid_attribute("What time is the party?", "party at Lena's", set(), lambda tid: True)


def test_a_code_of_letters_and_digits_is_no_sum_nor_day() -> None:
    kinds = kinds_of_text("Licence approved, number LC-2027-448812, sticker on the van")
    assert kinds & AMOUNT and not kinds & (MONEY | DAY | PHONE)
    assert kinds_of_text("paid Tsh450,000.00 for the fees") & MONEY  # a currency's letters are no code


def test_what_time_with_the_day_said_first_asks_a_time_of_day() -> None:
    assert asked_kind("What time Saturday is my eye test?") == CLOCK
    assert asked_kind("What time on Friday does the recital start?") == CLOCK
    assert asked_kind("What time is my eye test on Saturday?") == CLOCK
    assert asked_kind("what time management tips did I save?") != CLOCK


@pytest.mark.parametrize(("query", "text"), [
    ("What did Omar get for his birthday?", "Omar got a bike from his nan"),  # what was given, not the day
    ("What level is my Spanish?", "I'm B1 in Spanish now"),  # a level is as often a grade
    ("Who handles my taxes?", "my accountant Priya does the taxes"),  # handle, the verb
])
def test_own_words_asked_only_in_their_own_question(query: str, text: str) -> None:
    assert not unsaid_kind(query, text)
