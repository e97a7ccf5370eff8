"""A stored question is not a fact (recall/questions.py): which passages ask without an answer."""

from __future__ import annotations

import pytest

from voice_letta.agent.recall.confidence import CONFIDENT, confidence
from voice_letta.agent.recall.questions import about_asking, asks_unanswered
from voice_letta.agent.recall.text import query_terms

UNANSWERED = [
    "user: what did I say the door code was?\nassistant: Let me check. [cut off]",
    "user: remind me what the poet's name was\nassistant: I'm not sure, could you tell me again?\nuser: never mind",
    "user: where did I park\nassistant: i dont think you told me",
    "user: what's the wifi password?\nassistant: no idea sorry\nuser: and the door code?\nassistant: not sure",
    "user: did I tell you the fair date?\nassistant: yes you did",  # a bare yes to a memory question tells nothing
    "Do you remember the door code?",  # a note that is only a question
    "user: so um whats my sisters new address\nassistant: hmm I don't have that, sorry",
]
ANSWERED = [
    "user: do you remember the studio door code?\nassistant: Yes, you told me it's 4471.",
    "user: did I tell you who's producing the show?\nassistant: I don't think you've told me who produces it. Who is "
    "it?\nuser: it's marisol, she started last month",
    "user: do you remember when my show is?\nassistant: Thursdays from eight to ten at night.",
    "user: is the fair on the fifth?\nassistant: yes",  # the question states the fact, the reply confirms it
    "user: remind me to call mum at five\nassistant: ok",  # a request, not a question
    "user: where did I park\nassistant: by the station",
    "user: were inviting about a hundred and twenty people",  # "we're": speech recognition drops apostrophes
    "user: when's my call with the art director\nassistant: [called check_calendar({})]\ntool result "
    "(check_calendar): Thu 19 Nov 15:00 - call with Fenella",
    "Caroline: How old is Mia now?",  # one dialogue line: the next line (another passage) answers it
    "user: How old is Mia now?",
    "user: the studio door code is 4471. do you think I should write it down?\nassistant: not sure",
]


@pytest.mark.parametrize("text", UNANSWERED)
def test_a_question_nothing_answers_is_flagged(text: str) -> None:
    assert asks_unanswered(text)


@pytest.mark.parametrize("text", ANSWERED)
def test_a_passage_that_answers_or_states_is_not_flagged(text: str) -> None:
    assert not asks_unanswered(text)


def test_a_stored_question_is_never_a_confident_answer() -> None:
    assert confidence(0.9, 1.0) > CONFIDENT
    assert confidence(0.9, 1.0, asks=True) < CONFIDENT


def test_a_question_about_the_asking_is_told_apart() -> None:
    assert about_asking("What did I ask you about the poet?")
    assert not about_asking("Do you remember the poet's name?")


def test_a_memory_question_is_searched_by_its_topic() -> None:
    assert query_terms("What did I tell you the keypad number is?") == ["keypad", "number"]
    assert query_terms("Do you remember the poet's name?") == ["poet", "name"]
    assert query_terms("Remind me what I said") == ["remind", "said"]  # nothing else: the frame is all there is
    assert "said" in query_terms("What Caroline said about the adoption agency")  # not spoken to the memory
