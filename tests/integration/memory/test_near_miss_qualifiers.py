"""Near misses told apart by a qualifier, through the real server and a real SQLite file: the way back of a trip,
another day of the month, the identifier of another thing, the same thing at another place
(recall/opposites.py, monthdays.py, identifiers.py, places.py). Facts written for these tests."""

from __future__ import annotations

import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.memory.test_recall import DAY, batch, search


async def _agent(server: Running, lines: list[str]) -> tuple[str, list[str]]:
    agent = await create_voice_agent(server)
    now = time.time()
    ids = await batch(server, agent["id"], [{"text": t, "start_at": now - (20 - i) * DAY} for i, t in enumerate(lines)])
    return agent["id"], ids


async def _top(server: Running, agent_id: str, question: str) -> dict[str, object]:
    found = await search(server, agent_id, question)
    assert found, question
    return found[0]


async def test_the_way_out_does_not_answer_the_way_back(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: booked the ferry to rangitoto for the sixth, the ten thirty sailing",
        "user: my brother kofi flies out to accra on the second, kenya airways via nairobi"])
    for question, row, answers in (("What time is the ferry back from Rangitoto?", 0, False),
                                   ("What time is the ferry to Rangitoto?", 0, True),
                                   ("Which airline is Kofi flying home on?", 1, False),
                                   ("Which airline is Kofi flying out on?", 1, True)):
        top = await _top(server, agent_id, question)
        assert top["id"] == ids[row] and (float(top["confidence"]) >= 0.5) == answers, (question, top)
    [back] = await batch(server, agent_id, [{"text": "user: the ferry back from rangitoto is the four o'clock",
                                             "start_at": time.time() - DAY}])
    found = await search(server, agent_id, "What time is the ferry back from Rangitoto?", limit=3)
    [hit] = [p for p in found if p["id"] == back]
    assert hit["confidence"] >= 0.5, hit


async def test_another_day_of_the_month_is_another_time(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: I'm doing the school run the week of the ninth and dev takes the week of the sixteenth"])
    top = await _top(server, agent_id, "Who is doing the school run the week of the twenty-third?")
    assert top["id"] == ids[0] and float(top["confidence"]) < 0.5, top
    top = await _top(server, agent_id, "Who is doing the school run the week of the sixteenth?")
    assert top["id"] == ids[0] and float(top["confidence"]) >= 0.5, top


async def test_an_identifier_of_another_thing_is_not_the_one_asked_for(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: the hotel booking reference for lyon is HM-88213",
        "user: my flight to lyon is BA 2490 on friday, seat 22A by the window",
        "user: nadia from work is coming to lyon too, she's on the same BA 2490 and staying with her cousin"])
    for question in ("What's Nadia's seat number?", "What's the booking reference for Nadia's hotel?"):
        found = await search(server, agent_id, question)
        assert all(p["confidence"] < 0.5 for p in found), (question, [(p["text"], p["confidence"]) for p in found])
    for question, row in (("What seat number do I have on my flight?", 1),
                          ("What's the booking reference for the hotel in Lyon?", 0)):
        top = await _top(server, agent_id, question)
        assert top["id"] == ids[row] and float(top["confidence"]) >= 0.5, (question, top)


async def test_the_same_thing_at_another_place_is_not_an_answer(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: I left the spare key to the garden shed at home under the blue pot",
        "user: the padlock on the bike shed at work is 5 0 8 2"])
    top = await _top(server, agent_id, "What's the padlock code for the bike shed at home?")
    assert top["id"] == ids[1] and float(top["confidence"]) < 0.5, top
    top = await _top(server, agent_id, "What's the padlock code for the bike shed at work?")
    assert top["id"] == ids[1] and float(top["confidence"]) >= 0.5, top
    agent_id, ids = await _agent(server, [
        "user: we've got sixty guests coming to the party at the old mill, drinks from seven",
        "user: the lemon cake was for the christening, not the party"])
    found = await search(server, agent_id, "How many guests are coming to the christening?")
    assert found and all(p["confidence"] < 0.5 for p in found), [(p["text"], p["confidence"]) for p in found]
    top = await _top(server, agent_id, "How many guests are coming to the party?")
    assert top["id"] == ids[0] and float(top["confidence"]) >= 0.5, top


async def test_another_attribute_of_the_same_person_is_not_an_answer(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: sami does judo on saturday mornings at ten at the sports hall",
        "user: parents evening for my daughter noor is the ninth at five fifteen, sami's is the day after at four"])
    found = await search(server, agent_id, "What time is Noor's judo?")
    assert found and all(p["confidence"] < 0.5 for p in found), [(p["text"], p["confidence"]) for p in found]
    top = await _top(server, agent_id, "What time is Sami's judo?")
    assert top["id"] == ids[0] and float(top["confidence"]) >= 0.5, top
