"""recall/values.py and recall/names.py: where the value a question asks for is said (a list's other line, a name or
a part of one not said, a person asked by a role and not named, another holder's thing, a line that only asks), the
asked kinds it relies on (recall/quantity.py, recall/opposites.py), and facts told as questions (recall/confidence.py
``told_as_question``)."""

from __future__ import annotations

import pytest

from voice_letta.agent.recall.confidence import told_as_question
from voice_letta.agent.recall.names import asked_name_of, missing_name, missing_name_part, missing_person
from voice_letta.agent.recall.opposites import asks_return_leg
from voice_letta.agent.recall.quantity import AMOUNT, CLOCK, DAY, asked_kind
from voice_letta.agent.recall.values import asks_listener, other_holder, other_item

GARAGE = ("## Garage\n- Door spring replaced 3/14, $180 from Acme Doors\n- Next: repaint the side door\n"
          "- Opener remote: Genie, reorder code GR-2210")
ITINERARY = ("Douro valley: tour Fri 17 April with Quinta do Vale (pick-up 09:00, two wine tastings).\n"
             "HOTEL 2: Torel Palace Porto, 15-19 April. Check-in from 14:00. Confirmation PT-5530.\n"
             "DAY 8 (Sat 18 April): Livraria Lello 09:30 slot.\n"
             "RETURN: Sun 19 April, easyJet U2 6124 Porto 19:50 to Bristol 22:35.")


def _one(tid: int) -> float:
    return 1.0


@pytest.mark.parametrize(("question", "text", "misplaced"), [
    ("How much did the side door repaint cost?", GARAGE, True),  # the spring's $180 is another line's
    ("How much did the door spring cost?", GARAGE, False),
    ("What's the reorder code for the opener remote?", GARAGE, False),
    ("What's the confirmation number for the Douro tour?", ITINERARY, True),  # the hotel's confirmation
    ("What's the confirmation number for the Torel Palace?", ITINERARY, False),
    # within one line its values are its own (check-in and check-out are one stored term: not told apart here)
    ("What time is check-out at the Torel Palace?", ITINERARY, False),
    ("When is the Douro valley tour?", ITINERARY, False),
    ("What time is our flight home from Porto?", ITINERARY, False),
    # not a list: a dialogue answers across its lines
    ("What time is my flight?", "assistant: what time is your flight?\nuser: ten fifteen\nassistant: noted", False),
    ("How much did the side door repaint cost?", "user: the side door repaint is next on the list", False),
    ("Who is the plumber?", GARAGE, False),  # no kind of value asked
])
def test_a_list_line_about_the_thing_gives_its_value(question: str, text: str, misplaced: bool) -> None:
    assert other_item(question, text, _one) is misplaced


@pytest.mark.parametrize(("question", "text"), [
    # a first line that is a title heads every line under it
    ("When is the dentist appointment?", "Dentist appointment\nTuesday 14 May, 10:30\nDr Osei, Mill Road\nbring forms"),
    # a detail indented under its item belongs to it
    ("What time is my flight?", "Trip notes\n- Flight: BA 2490\n    departs 09:40 from T5\n- Hotel: Ibis\n- Car: none"),
    # a value in the heading is its items' value
    ("When is the dentist appointment?", "## Dentist: Tue 14 May 10:30\n- Dr Osei\n- bring forms\n- parking at rear"),
])
def test_a_list_is_read_by_its_structure(question: str, text: str) -> None:
    assert not other_item(question, text, _one)


def test_a_list_weighs_rare_words_more() -> None:
    text = "## Money\n- Kitchen budget raised to $41,500\n- Emergency fund: $6,000\n- Garden: pick the fence"
    assert other_item("What's the garden budget?", text, _one)
    assert not other_item("What's the kitchen budget?", text, _one)


@pytest.mark.parametrize(("question", "text", "missing"), [
    ("What's Mr Pritchard's first name?", "user: my old teacher mr pritchard is moving in next door!", True),
    ("What's Mr Pritchard's first name?", "user: it's alan pritchard, my old teacher", False),
    ("What's Sunil's surname?", "user: the new guy at the gate is called sunil", True),
    ("What's Sunil's surname?", "user: the new guy at the gate is sunil rao", False),
    ("What's Sunil's surname?", "user: the plumber is coming on friday", False),  # the name is not said: not judged
    ("What's the surname of Sunil?", "user: sunil, the new guy, starts monday", True),
    ("What's Sunil's surname?", "user: sunil's van is blocking the drive again", True),  # his van, not his surname
    ("What's Sunil's first name?", "user: Mr Rao's van, I mean Sunil Rao's, is outside", False),
])
def test_a_part_of_a_name_is_the_word_beside_it(question: str, text: str, missing: bool) -> None:
    assert missing_name_part(question, text) is missing


@pytest.mark.parametrize(("question", "thing"), [
    ("What's the name of Biscuit's vet?", "vet"),
    ("What's the drummer's name?", "drummer"),
    ("What are the kittens called?", "kitten"),
    ("What are the twins' names?", "twin"),
    ("what is jess's parrot called", "parrot"),
    ("What's Mia's name?", None),  # a person named in the question
    ("What's Mr Pritchard's first name?", None),  # a part of a name: missing_name_part
    ("Who called the plumber?", None),
])
def test_the_thing_a_name_is_asked_for(question: str, thing: str | None) -> None:
    assert asked_name_of(question) == thing


@pytest.mark.parametrize(("question", "text", "missing"), [
    ("What's the name of Biscuit's vet?", "user: the vet says chicken\nassistant: Poor Biscuit.", True),
    ("What's the name of Biscuit's vet?", "user: the vet is dr okafor on mill lane", False),
    ("What's the drummer's name?", "The user left The Loose Ends after a row with the drummer last spring.", True),
    ("What's the drummer's name?", "The user's band has a new drummer, Pete Lowe, from Leeds.", False),
    ("What are the kittens called?", "Miso died last week; the user may adopt two kittens in the new year.", True),
    ("What are the kittens called?", "The user named the kittens Salt and Pepper.", False),
    ("what is jess's parrot called", "jess: my parrot kiwi is gonna hate the move", False),  # spoken lower case
    ("What's the name of the vet?", "user: the vet is patel on mill road", False),
    ("What's the drummer's name?", "user: our drummer, pete, broke a stick", False),
    ("What's the name of the vet?", "user: the vet is coming on friday", True),
    ("What's the chiropodist's name?", "user: the chiropodist comes at ten\nassistant: Okay, chiropodist.", True),
    ("What's the drummer's name?", "user: we need new strings before the gig", False),  # not said: not judged
    ("What are the dogs' names?", "Maria: Her name is Shadow! She loves the park. [a photo of a dog]", False),
    ("What is my corgi called?", "user: Biscuit, my corgi, chewed my shoes again.", False),  # at the start
])
def test_a_name_is_said_near_the_thing(question: str, text: str, missing: bool) -> None:
    assert missing_name(question, text) is missing


@pytest.mark.parametrize(("question", "text", "missing"), [
    ("Who is Ivy's dentist?", "Ivy had a filling, her dentist said no sweets for a week", True),
    ("Who is Ivy's dentist?", "Ivy's dentist is Dr Osei on King Street", False),
    ("Who is my landlord?", "user: the landlord is this older guy named otto he lives downstairs", False),
    ("Who is the manager at the pool?", "assistant: Did the pool's new manager start?\nuser: yep, tash", False),
    ("Who is Ivy's dentist?", "Ivy starts swimming on Monday", False),  # the role not said: not judged
    ("Who won the raffle?", "the raffle sold 380 tickets", False),  # no role asked
    ("Who is my doctor?", "Dr. patel is my doctor now, the surgery on Elm Road", False),  # a title names someone
])
def test_a_person_asked_by_role_needs_a_name(question: str, text: str, missing: bool) -> None:
    assert missing_person(question, text) is missing


@pytest.mark.parametrize(("question", "text", "other"), [
    ("What's the wifi password at home?", "user: the cabin's wifi password is pinecone77", True),
    ("What's the wifi password at the cabin?", "user: the cabin's wifi password is pinecone77", False),
    ("What's the wifi password at home?", "user: the wifi password is pinecone77", False),  # no other holder
    ("What's the wifi password at home?", "user: it's pinecone77, that's the wifi password", False),
    ("What's the padlock code at the allotment?", "user: the storage unit's padlock code is 3309", True),
])
def test_the_same_thing_of_another_holder(question: str, text: str, other: bool) -> None:
    assert other_holder(question, text) is other


def test_asked_kinds() -> None:
    assert asked_kind("When is Zoe's birthday?") == DAY  # a day, not a time of day
    assert asked_kind("When is the deadline for the grant?") == DAY
    assert asked_kind("When is my flight?") == DAY | CLOCK
    assert asked_kind("What's my target time for the aquathlon?") == CLOCK | AMOUNT
    assert asked_kind("What was my finishing time?") == CLOCK | AMOUNT
    assert asks_return_leg("Which train am I taking back from Udaipur?")
    assert asks_return_leg("What time is the train back from Porto?")
    assert not asks_return_leg("Which train are we taking to Porto?")
    assert not asks_return_leg("Which train did I take back from Leeds?")  # a trip that happened


@pytest.mark.parametrize(("text", "asks"), [
    ("Jolene: How old is Luna?", True),
    ("Andrew: Aww that's a cute photo! How are their personalities?", True),
    ("John: Hey Maria! What did you think of the movie? [shares a photo of a cinema]", True),
    ("Caroline: I went to the support group. It was great. Have you been?", False),  # her own statement first
    ("Melanie: Thanks! I'm off to the beach now.", False),  # no question
    ("user: how old is mia?", False),  # the user's questions are recall/questions.py's
    ("assistant: Which garage do you use?", False),
    ("Jolene: How old is Luna?\nDeborah: She's three.", False),  # not one line
])
def test_a_line_that_only_asks_states_nothing(text: str, asks: bool) -> None:
    assert asks_listener(text) is asks


@pytest.mark.parametrize(("text", "told"), [
    ("user: did I tell you my sister moved to porto?\nassistant: No, you didn't!", True),
    ("user: did i mention that my sister ines moved to porto last month", True),  # no question mark in speech
    ("user: guess what? I got the job at Stripe!\nassistant: Congratulations!", True),
    ("user: you know my neighbour Ravi?\nassistant: Yes.\nuser: he's moving to Leeds in March", True),
    ("user: did I tell you the door code?\nassistant: No, I don't think so.", False),  # asks, tells nothing
    ("user: my sister moved to porto\nassistant: Lovely!", False),  # told plainly: no frame to correct
])
def test_a_fact_told_as_a_question(text: str, told: bool) -> None:
    assert told_as_question(text) is told
