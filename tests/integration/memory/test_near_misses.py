"""Near misses through the real server and a real SQLite file: a question about one person is not confidently
answered by a line about another, nor a question for an email, a price or earnings by a line about the same thing
that does not say one (recall/roles.py, recall/quantity.py). Facts written for these tests."""

from __future__ import annotations

import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.memory.test_recall import DAY, batch, search


async def test_a_question_about_one_named_person_is_not_answered_by_a_line_about_another(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    lines = ["user: marcus is allergic to peanuts, he carries an epipen everywhere",
             "user: my dad's birthday is the ninth of may, he'll be sixty",
             "user: priya's piano lessons are tuesday evenings at the music school",
             "user: ada has ballet on fridays after school"]
    ids = await batch(server, agent["id"], [{"text": t, "start_at": now - (9 - i) * DAY} for i, t in enumerate(lines)])
    for question, row in (("What is Ada allergic to?", 0), ("When is Marcus's dad's birthday?", 1),
                          ("When are Ada's piano lessons?", 2)):
        found = await search(server, agent["id"], question)
        assert found and found[0]["confidence"] < 0.5, (question, found[:1])
        assert all(p["confidence"] < 0.5 for p in found if p["id"] == ids[row]), question
    for question, row in (("What is Marcus allergic to?", 0), ("When is my dad's birthday?", 1),
                          ("When are Priya's piano lessons?", 2)):
        found = await search(server, agent["id"], question)
        assert found[0]["id"] == ids[row] and found[0]["confidence"] >= 0.5, (question, found[:1])


async def test_a_grandparent_is_not_another_grandparent(server: Running) -> None:
    agent = await create_voice_agent(server)
    [nan] = await batch(server, agent["id"], [{"text": "user: sam's nan is in the general hospital so she's driving "
                                                       "up to see her tomorrow", "start_at": time.time() - DAY}])
    found = await search(server, agent["id"], "Which hospital is Sam's grandad in?")
    assert found[0]["id"] == nan and found[0]["confidence"] < 0.5
    found = await search(server, agent["id"], "Which hospital is Sam's grandma in?")
    assert found[0]["id"] == nan and found[0]["confidence"] >= 0.5


async def test_a_question_for_an_email_a_price_or_earnings_needs_one(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    lines = ["user: my new contact at the agency is a woman called rosa lind",
             "user: the year five parents are running a lemonade stall at the fete",
             "user: tariq started at the hospital as a porter, he left the warehouse"]
    ids = await batch(server, agent["id"], [{"text": t, "start_at": now - (9 - i) * DAY} for i, t in enumerate(lines)])
    for question, row in (("What's Rosa Lind's email address?", 0), ("How much is a lemonade at the fete?", 1),
                          ("What does Tariq earn at the hospital?", 2)):
        found = await search(server, agent["id"], question)
        assert found[0]["id"] == ids[row] and found[0]["confidence"] < 0.5, (question, found[:1])
    said = ["user: rosa's email is rosa at lindmedia dot com", "user: lemonade at the fete is fifty pence a cup",
            "user: tariq earns twenty four thousand a year at the hospital"]
    new = await batch(server, agent["id"], [{"text": t, "start_at": now - DAY + 60 * i} for i, t in enumerate(said)])
    for question, row in (("What's Rosa Lind's email address?", 0), ("How much is a lemonade at the fete?", 1),
                          ("What does Tariq earn at the hospital?", 2)):
        found = await search(server, agent["id"], question, limit=3)
        [hit] = [p for p in found if p["id"] == new[row]]
        assert hit["confidence"] >= 0.5, (question, hit)


async def test_the_opposite_end_of_the_same_thing_is_not_an_answer(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    lines = ["user: from monday the bakery opens at half six on weekdays",
             "user: my evening pottery course starts on the ninth of january"]
    ids = await batch(server, agent["id"], [{"text": t, "start_at": now - (5 - i) * DAY} for i, t in enumerate(lines)])
    for question, row, answers in (("What time does the bakery close on weekdays?", 0, False),
                                   ("What time does the bakery open on weekdays?", 0, True),
                                   ("When does my pottery course finish?", 1, False),
                                   ("When does my pottery course start?", 1, True)):
        found = await search(server, agent["id"], question)
        assert found[0]["id"] == ids[row] and (found[0]["confidence"] >= 0.5) == answers, (question, found[:1])


async def test_when_and_what_time_are_not_answered_by_a_line_with_no_day_or_time(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    lines = ["user: the insurance paid out six hundred for the stolen laptop",
             "user: our guest on friday is the chef ana ruiz, she'll talk for about twenty minutes"]
    ids = await batch(server, agent["id"], [{"text": t, "start_at": now - (5 - i) * DAY} for i, t in enumerate(lines)])
    for question, row in (("When is my laptop insurance renewal?", 0), ("What time does the chef arrive?", 1)):
        found = await search(server, agent["id"], question)
        assert found[0]["id"] == ids[row] and found[0]["confidence"] < 0.5, (question, found[:1])
    said = ["user: the laptop insurance renews on the third of march", "user: the chef arrives at half six on friday"]
    new = await batch(server, agent["id"], [{"text": t, "start_at": now - DAY + 60 * i} for i, t in enumerate(said)])
    for question, row in (("When is my laptop insurance renewal?", 0), ("What time does the chef arrive?", 1)):
        found = await search(server, agent["id"], question, limit=3)
        [hit] = [p for p in found if p["id"] == new[row]]
        assert hit["confidence"] >= 0.5, (question, hit)
