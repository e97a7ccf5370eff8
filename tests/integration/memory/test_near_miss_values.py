"""Near misses where the value asked for is not said of the thing asked about, through the real server and a real
SQLite file (recall/values.py, and the asked kinds of recall/quantity.py and recall/opposites.py): a list's line
about the thing gives no value while another line does, a part of a name or a name not said, the same thing of
another holder, a birthday that is no time of day, a target time, the way back. Facts written for these tests."""

from __future__ import annotations

import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.test_near_miss_qualifiers import _agent, _top
from tests.integration.memory.test_recall import DAY, batch, search


async def _confident(server: Running, agent_id: str, question: str, passage_id: str, answers: bool) -> None:
    top = await _top(server, agent_id, question)
    assert top["id"] == passage_id and (float(top["confidence"]) >= 0.5) == answers, (question, top)


async def test_a_list_line_about_the_thing_must_give_the_value(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "## Garage\n- Door spring replaced 3/14, $180 from Acme Doors\n- Next: repaint the side door\n"
        "- Opener remote: Genie, reorder code GR-2210",
        "## Boat trip\n- Skipper: Callum, meet at pier 4\n- Sails Sat 9:30, back by 16:00\n"
        "- Fuel top-up still to book"])
    await _confident(server, agent_id, "How much did it cost to replace the garage door spring?", ids[0], True)
    await _confident(server, agent_id, "How much did the side door repaint cost?", ids[0], False)
    await _confident(server, agent_id, "What time does the boat trip sail?", ids[1], True)
    await _confident(server, agent_id, "What time is the fuel top-up for the boat?", ids[1], False)


async def test_a_name_or_a_part_of_it_must_be_said(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: our new neighbour is mrs okonkwo, she runs the bakery on the corner",
        "user: the farrier is coming on thursday to do the pony's shoes",
        "The user's neighbour keeps two goats in the back garden."])
    await _confident(server, agent_id, "What's Mrs Okonkwo's first name?", ids[0], False)
    await _confident(server, agent_id, "What's the farrier's name?", ids[1], False)
    await _confident(server, agent_id, "What are the goats called?", ids[2], False)
    now = time.time()
    named = await batch(server, agent_id, [
        {"text": "user: mrs okonkwo said to call her adaeze, adaeze okonkwo", "start_at": now - DAY},
        {"text": "user: the farrier is called Gethin Price, he's brilliant with the pony", "start_at": now - DAY},
        {"text": "The user's neighbour named the goats Salt and Pepper.", "start_at": now - DAY}])
    for question, passage_id in (("What's Mrs Okonkwo's first name?", named[0]),
                                 ("What's the farrier's name?", named[1]),
                                 ("What are the goats called?", named[2])):
        found = await search(server, agent_id, question, limit=3)
        [hit] = [p for p in found if p["id"] == passage_id]
        assert hit["confidence"] >= 0.5, (question, hit)


async def test_the_same_thing_of_another_holder_is_not_an_answer(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: the storage unit's padlock code is 3 3 0 9, don't lose it"])
    await _confident(server, agent_id, "What's the padlock code at the allotment?", ids[0], False)
    await _confident(server, agent_id, "What's the padlock code for the storage unit?", ids[0], True)


async def test_a_birthday_a_target_time_and_the_way_back_need_their_own_value(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: ruby's swimming lesson moved to half four on the same day",
        "user: signed up for the harbour swim in march, my comeback since the knee op",
        "user: booked the train to york for the twelfth, the nine oh four from kings cross"])
    await _confident(server, agent_id, "When is Ruby's birthday?", ids[0], False)
    await _confident(server, agent_id, "When is Ruby's swimming lesson?", ids[0], True)
    await _confident(server, agent_id, "What's my target time for the harbour swim?", ids[1], False)
    await _confident(server, agent_id, "Which train am I taking back from York?", ids[2], False)
    await _confident(server, agent_id, "Which train am I taking to York?", ids[2], True)


async def test_a_line_that_only_asks_the_other_person_states_nothing(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "Priyanka: I'm restoring an old sailing dinghy in my garage, the hull is nearly done.",
        "Tomasz: Wow, nice! What colour is the dinghy going to be?",
        "Priyanka: Dark green with a white stripe, like the original.",
        "Tomasz: I finally finished the mural on the library wall, took me three weekends!"])
    found = await search(server, agent_id, "Which colour did Tomasz pick for his boat?", limit=5)
    asked = [p for p in found if p["id"] == ids[1]]
    assert asked and asked[0]["confidence"] < 0.5, [(p["text"][:40], p["confidence"]) for p in found]
    await _confident(server, agent_id, "What did Tomasz finish painting?", ids[3], True)


async def test_a_fact_told_as_a_question_is_confident(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: did I tell you my cousin moved to Galway?\nassistant: No, you didn't! How exciting.",
        "user: you know my old flatmate Jonah?\nassistant: Yes.\nuser: he's opening a bakery in Margate",
        "user: my bike needs a new chain before the sportive\nassistant: Noted."])
    await _confident(server, agent_id, "Where does my cousin live now?", ids[0], True)
    await _confident(server, agent_id, "What is Jonah opening?", ids[1], True)
    await _confident(server, agent_id, "Where does my brother live now?", ids[0], False)  # another person
