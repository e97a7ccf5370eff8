"""Facts told as yes/no questions, and the user's memory questions on one line (recall/questions.py), through the
real server and a real SQLite file.

Found from outside in session 6: "did I tell you my sister moved to Porto?" / "No, you didn't!" was taken for a memory
question nothing answered (the listener's "no" adds no word) and ranked last for "Where does my sister live?". A
yes/no question about the telling whose complement is a clause states that clause; one whose complement is a noun
phrase or an embedded question ("did I tell you the door code?", "...who's doing the catering?") asks. And a
push-to-talk archive, one line per passage: "What time is the plumber coming?" was answered at 0.92 by the user's own
"did i tell you what time the plumber is coming", and "What's the garage code?" at 0.99 by a later line listed as
replacing the reply to "did i tell you the garage code" ("i dont think so").
"""

from __future__ import annotations

import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.memory.test_recall import batch, search
from voice_letta.agent.recall.confidence import ASKED_MAX, CONFIDENT

DAY = 86400.0
CHUNKS = [
    ("user: i work as a nurse at st marys hospital, mostly on the cardiology ward\nassistant: That sounds demanding.",
     30),
    ("user: my brother tom is an electrician in cardiff\nassistant: Nice.", 25),
    ("user: did I tell you my sister moved to Porto?\nassistant: No, you didn't!", 20),
    ("user: did I tell you the door code?\nassistant: No, I don't think you did.", 18),
    ("user: have I told you we adopted a dog? her name is biscuit\nassistant: No! Congratulations.", 16),
    ("user: did you know my dad is retiring in june?\nassistant: I didn't know that.", 14),
    ("user: did I tell you who's doing the catering for the wedding?\nassistant: I don't think so.", 12),
    ("user: oh did i tell you i switched to the night shift\nassistant: no you didnt, how is it", 10),
    ("user: my car is a blue toyota yaris\nassistant: Got it.", 1),
]
LINES = [
    ("user: i work as a nurse at st marys hospital", 30),
    ("user: did i tell you the garage code", 15),
    ("assistant: i dont think so", 15),
    ("user: have i told you my mum is coming to stay for christmas", 12),
    ("user: did i tell you what time the plumber is coming", 7),
    ("assistant: no what time", 7),
    ("user: guess what i passed my driving test", 5),
    ("user: did i say my landlord raised the rent to 1400", 2),
]


async def test_a_fact_told_as_a_question_is_a_fact_and_a_memory_question_is_not(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    ids = await batch(server, agent["id"], [{"text": t, "start_at": now - d * DAY} for t, d in CHUNKS])
    nurse, _, sister, door, dog, dad, catering, shift, _ = ids

    for question, fact in (("Where does my sister live?", sister), ("Which city did my sister move to?", sister),
                           ("What's my dog called?", dog), ("When is my dad retiring?", dad),
                           ("What shift do I work?", shift)):
        found = await search(server, agent["id"], question, limit=5)
        order = [p["id"] for p in found]
        assert fact in order[:2], (question, [p["text"][:40] for p in found])  # was ranked last for the sister
    found = await search(server, agent["id"], "When is my dad retiring?", limit=3)
    assert found[0]["id"] == dad and found[0]["confidence"] >= CONFIDENT
    found = await search(server, agent["id"], "What shift do I work?", limit=3)
    assert found[0]["id"] == shift and found[0]["id"] != nurse

    # asked, never told: the stored question answers nothing
    for question, asked in (("What's the door code?", door), ("Who is doing the catering for the wedding?", catering)):
        found = await search(server, agent["id"], question, limit=10)
        assert found[0]["confidence"] < CONFIDENT, question
        assert all(p["confidence"] <= ASKED_MAX for p in found if p["id"] == asked)


async def test_the_users_memory_question_on_one_line_answers_nothing(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    ids = await batch(server, agent["id"], [{"text": t, "start_at": now - d * DAY + i}
                                            for i, (t, d) in enumerate(LINES)])
    _, garage, no_garage, mum, plumber, _, test, rent = ids

    for question in ("What time is the plumber coming?", "What's the garage code?"):
        found = await search(server, agent["id"], question, limit=5)
        assert found[0]["confidence"] < CONFIDENT, (question, found[0]["text"], found[0]["confidence"])
        # the line after an unanswered memory question stands for no fact: nothing later replaces it
        assert all(garage not in p["previously"] and no_garage not in p["previously"] for p in found)
    found = await search(server, agent["id"], "What time is the plumber coming?", limit=5)
    assert all(p["confidence"] <= ASKED_MAX for p in found if p["id"] == plumber)

    for question, fact in (("How much is my rent?", rent), ("Did I pass my driving test?", test),
                           ("Who is coming to stay for Christmas?", mum)):  # told as questions, one line each
        found = await search(server, agent["id"], question, limit=3)
        assert fact in [p["id"] for p in found[:2]], (question, [p["text"][:40] for p in found])
    found = await search(server, agent["id"], "How much is my rent?", limit=3)
    assert found[0]["id"] == rent and found[0]["confidence"] >= CONFIDENT
