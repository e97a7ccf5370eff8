"""A stored question is not a fact (recall/questions.py): which passages ask without an answer."""

from __future__ import annotations

import pytest

from voice_letta.agent.recall.confidence import CONFIDENT, confidence
from voice_letta.agent.recall.questions import about_asking, asks_the_memory, asks_unanswered, states_fact
from voice_letta.agent.recall.text import query_terms

UNANSWERED = [
    "user: what did I say the door code was?\nassistant: Let me check. [cut off]",
    "user: remind me what the poet's name was\nassistant: I'm not sure, could you tell me again?\nuser: never mind",
    "user: where did I park\nassistant: i dont think you told me",
    "user: what's the wifi password?\nassistant: no idea sorry\nuser: and the door code?\nassistant: not sure",
    "user: did I tell you the fair date?\nassistant: yes you did",  # a bare yes to a memory question tells nothing
    "Do you remember the door code?",  # a note that is only a question
    "user: Who do I see for my teeth?",  # one line, the user asking about their own things (QA, session 19)
    "user: so when's my dentist appointment?",
    "user: so um whats my sisters new address\nassistant: hmm I don't have that, sorry",
    "user: did I tell you the door code?\nassistant: No, I don't think you did.",  # a noun phrase: asked, not told
    "user: did I tell you about my trip?\nassistant: No, you didn't!",
    "user: did i tell you the garage code",  # the user asking the memory, one line: the next line answers or not
    "user: what did I say the wifi password was?",
    "user: do you remember the poet's name?",
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
    "user: what time do we meet?",  # asked of the people the user talks to: their next line may answer
    "user: the studio door code is 4471. do you think I should write it down?\nassistant: not sure",
    # facts told as yes/no questions: the listener's "no" adds nothing, the question's clause is the fact
    "user: did I tell you my sister moved to Porto?\nassistant: No, you didn't!",
    "user: did you know my dad is retiring in june?\nassistant: I didn't know that.",
    "user: oh did i tell you i switched to the night shift\nassistant: no you didnt, how is it",
    "user: did I tell you who's producing the show?\nassistant: No. Who?\nuser: didn't I say it's marisol now?",
    "user: did i mention that my sister ines moved to porto last month",  # one line: stated, not asked
    "Melanie: did you know I signed up for a pottery class?",
    "Caroline: do you remember the charity race?",  # talk between people, not a question to the memory
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


TOLD = ["did i tell you my sister moved to porto?", "did i mention that my sister ines moved to porto last month",
        "have i told you we adopted a dog? her name is biscuit", "did you know my dad is retiring in june?",
        "oh did i tell you i switched to the night shift", "did i say my landlord raised the rent to 1400",
        "you know the bakery on elm street? they closed down", "did i tell you the wedding is in june?",
        "did you hear the library closes at six now?", "did i tell you my dad's retiring",
        "guess what i passed my driving test", "did i tell you that on monday we moved",
        "have i told you i'm pregnant?",
        "so did i ever tell you my brother got married", "didn't i tell you mum's in hospital?",
        "you know what? i quit my job"]
ASKED = ["did i tell you the door code?", "did i tell you who's producing the show?", "what did i say the code was?",
         "did i tell you about my trip?", "did i tell you what time the plumber is coming",
         "did i tell you my new address?",
         "did i tell you the name i picked for the boat?", "did i tell you the updated schedule?",
         "did i tell you my dad's address?", "you know my neighbour ravi?", "did i tell you the kids names",
         "do you remember the studio door code?", "did i tell you if the fair is on?", "guess what?",
         "you know what the code is?", "my sister moved to porto"]


@pytest.mark.parametrize("line", TOLD)
def test_a_fact_told_as_a_yes_no_question_states_its_clause(line: str) -> None:
    assert states_fact(line)


@pytest.mark.parametrize("line", ASKED)
def test_a_noun_phrase_an_embedded_question_or_no_frame_states_nothing(line: str) -> None:
    assert not states_fact(line)


def test_only_the_users_own_memory_question_is_flagged_on_one_line() -> None:
    assert asks_the_memory("user: did I tell you what time the plumber is coming?")
    assert not asks_the_memory("user: did I tell you the plumber is coming at three?")  # told
    assert not asks_the_memory("user: how old is mia now?")  # asks the conversation, not the memory
    assert not asks_the_memory("Caroline: do you remember the door code?")
    assert not asks_the_memory("assistant: did I tell you the door code?")
