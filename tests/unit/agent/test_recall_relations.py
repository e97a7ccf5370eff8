"""recall/relations.py: the names a passage gives a relation, read from its own text."""

from __future__ import annotations

import pytest

from voice_letta.agent.recall.relations import pairs_in
from voice_letta.agent.recall.timewords import names_no_topic


@pytest.mark.parametrize(("text", "pair"), [
    ("June (the user's mother) has physio for her left hip", ("june", "mother")),
    ("Walter (the user's father, 84) takes metoprolol", ("walter", "father")),
    ("The user's brother Kimo lives in Hilo", ("kimo", "brother")),
    ("my sister Maya moved to Leeds", ("maya", "sister")),
    ("user: tía Rosa is picking me up", ("rosa", "tía")),
    ("Uncle Dev is flying in after all", ("dev", "uncle")),
    ("my mum's name is June", ("june", "mum")),
    ("my boss is called Dana", ("dana", "boss")),
    ("Dana is my boss now", ("dana", "boss")),
    ("my doctor, Dr Patel, said to rest", ("patel", "doctor")),
    ("Maya - my sister - is coming", ("maya", "sister")),
    ("mi abuela Carmen turns ninety", ("carmen", "abuela")),
])
def test_a_relation_said_next_to_a_name_pairs_them(text: str, pair: tuple[str, str]) -> None:
    assert pair in pairs_in(text)


@pytest.mark.parametrize("text", [
    "I told my Mom Tuesday that the car is fixed",  # a day is no name
    "Dad's bringing gran, he'll pick her up at 12",  # no name said
    "user: my sister moved to porto",  # a lower-case transcript: "moved" cannot be told from a name
    "my mum. She called",  # a sentence ends
    "My Mother Is Here",  # title case: "Is" is no name
    "Priya, my sister-in-law's cousin",  # no sister
])
def test_no_pair_without_a_name(text: str) -> None:
    assert not pairs_in(text)


@pytest.mark.parametrize(("question", "listed"), [
    ("What was decided last week?", True),
    ("What did we agree on Monday?", True),
    ("Any news from yesterday?", True),
    ("What were the takeaways from Tuesday?", True),
    ("What did I say about item 42 last week?", False),
    ("What did we decide about the boiler yesterday?", False),  # a topic: ranked inside the window
    ("What changed in the wedding sheets last week?", True),  # a medium in the plural, named by what it is for
    ("What was edited in the wedding planning docs last week?", True),  # named by two words
    ("What did I say about the boiler in the family chat yesterday?", False),
])
def test_what_came_of_a_time_is_no_topic(question: str, listed: bool) -> None:
    assert names_no_topic(question) is listed
