"""The qualifiers a question tells near misses apart by (recall/opposites.py's way back, monthdays.py,
identifiers.py, places.py): what each reads from a question or a passage's terms; roles said as words, and notes
under one-word headings (recall/roles.py, recall/confidence.py)."""

from __future__ import annotations

import pytest

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.identifiers import owners, possessed
from voice_letta.agent.recall.monthdays import asked_days, days_in
from voice_letta.agent.recall.opposites import asks_return_leg
from voice_letta.agent.recall.places import place_terms


@pytest.mark.parametrize(("question", "expected"), [
    ("What time is the ferry back from Waiheke?", True),
    ("When does Sam fly home?", True),
    ("What's our return flight from Lisbon?", True),
    ("When am I coming home from the conference?", True),
    ("When did Dave return from San Francisco?", False),  # a trip that happened implies its return
    ("What did I return three days ago?", False),
    ("What do I type to get on the home internet?", False),
    ("What's the code for the bike lock at home?", False),
])
def test_a_question_about_the_way_back(question: str, expected: bool) -> None:
    assert asks_return_leg(question) is expected


@pytest.mark.parametrize(("text", "days"), [
    ("Who is on call the week of the twenty-eighth?", {28}),
    ("ana has the pager for the week of the fourteenth and I take the twenty-first", {14, 21}),
    ("dani's flight moved to the 19th", {19}),
    ("the deposit is due on 3 May 2023", {3}),
    ("march the first", {1}), ("the party is now the twenty first of march", {21}),
    ("my first time on a ferry", set()), ("ivy is in year four", set()), ("twenty five guests", set()),
    ("on the thirtieth", {30}), ("fifty people on the 2nd of june", {2}),
])
def test_days_of_the_month(text: str, days: set[int]) -> None:
    assert days_in(T.term_ids(text)) == days
    assert asked_days(text) == days


@pytest.mark.parametrize(("question", "words"), [
    ("What's Sam's seat number?", ["seat"]),
    ("What's the booking reference for Sam's hotel?", ["book"]),
    ("What's the office door code?", ["door"]),
    ("What's Mrs Okafor's phone number?", []),  # phone numbers are quantity.py's
    ("What was the highest number of points John scored?", []),  # a count
    ("What's the code for the bike lock?", []),
])
def test_what_an_identifier_belongs_to(question: str, words: list[str]) -> None:
    assert owners(question) == [T.term_id(w) for w in words]


@pytest.mark.parametrize(("question", "words"), [
    ("What time is Ivy's football?", ["footbal"]),
    ("Where is Ilse's new pottery course?", ["potteri"]),
    ("What is Hemi's new job?", []),  # an answer rarely repeats "job": "hemi works as a nurse"
    ("What is Lena's husband's name?", []),  # a role is recall/roles.py's, a name is not repeated either
])
def test_what_of_someone_a_question_asks_about(question: str, words: list[str]) -> None:
    assert [tid for _, tids in possessed(question) for tid in tids] == [T.term_id(w) for w in words]


@pytest.mark.parametrize(("question", "words"), [
    ("What's the code for the bike lock at home?", ["home"]),
    ("What's the wifi password at mum's?", ["mum"]),
    ("What's the alarm code at the office?", ["offic"]),
    ("How many guests came to the christening?", ["christen"]),
    ("Who's dressing up as Santa for the kids?", []),  # a person: recall/roles.py's
    ("What did I have for dinner?", []), ("How much did I spend in total?", []),
    ("When do I start at the animal hospital in the coming days?", []),  # a time
    ("Which countries did James visit in July 2022?", []),
    ("Where is Ana working from next week?", []),
])
def test_the_place_a_question_ends_with(question: str, words: list[str]) -> None:
    assert place_terms(question) == [T.term_id(w) for w in words]


def test_a_role_is_said_as_a_word_not_found_in_a_stem() -> None:
    from voice_letta.agent.recall.roles import query_roles

    def roles(q: str) -> list[tuple[int, frozenset[int]]]:
        return query_roles(T.query_terms(q), q)

    assert roles("Who oversees my doctorate now?") == []  # "doctorate" stems to "doctor"
    assert len(roles("What nursing home is my gran in?")) == 1  # gran; not "nursing" -> nurse
    [(_, ok)] = roles("Who is my doctor?")
    assert T.term_id("dr") in ok  # "Dr Visser"
    assert len(roles("Who are my kids' teachers?")) == 2  # plurals are the role


def test_a_note_under_a_one_word_heading_is_a_note() -> None:
    from voice_letta.agent.recall.confidence import third_person
    assert third_person("Funding: ESRC studentship, £19,237 a year, ends September.")
    assert third_person("Thesis: 'Flood memory in Severn valley villages'. Supervisor Dr Amara Nwosu.")
    assert not third_person("Caroline: I went to the support group yesterday")  # someone's words say I, we, you
    assert not third_person("Tim: Wow, Chicago sounds great! Have you ever been?")
    assert not third_person("user: the bike lock at the station is 3 6 6 1")  # the user's own words
    assert not third_person("assistant: Noted, Thursday at six.")
    assert not third_person("Ana: the fixtures are fixed\nTom: great, merging now")  # a conversation
