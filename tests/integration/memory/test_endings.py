"""A change that names the old value and says it ended (recall/facts.py ``names_value``, ``ENDING_CUE``) through the
real server. Found by qa's test6 (blind in session 7): "rahul's leaving, from monday my lead is going to be fatima
sheikh" ranked under "assistant: What's your manager's name there? / user: rahul menon" for "Who is my manager?" (the
assistant's question says the question's words, the change does not), as "I stopped going to cult, playing badminton"
under the gym's answer and "Miso died last week" under the cat's diet food. The later passage says the earlier one's
own value (a name or rare word the question does not say) and that it ended or gave way: a new version, first. The
conversations here are written for the test (not test6's lines)."""

from __future__ import annotations

import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.memory.test_recall import batch, first_of, search

DAY = 86400.0


async def test_a_later_ending_that_names_the_old_value_ranks_first(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    job, boss, dentist, pool, thali, left, stopped, keys = await batch(server, agent["id"], [
        {"text": "user: signed the contract, I start at the harbour trust as a data analyst next month",
         "start_at": now - 40 * DAY},
        {"text": "assistant: Who will you be reporting to?\nuser: gareth pryce", "start_at": now - 39 * DAY},
        {"text": "user: my dentist is dr amadi on the high street", "start_at": now - 35 * DAY},
        {"text": "assistant: Where do you swim these days?\nuser: the lido at brockwell", "start_at": now - 30 * DAY},
        {"text": "user: the canteen does a good thali on fridays", "start_at": now - 20 * DAY},
        {"text": "user: gareth's leaving, from monday my line manager is going to be ines duarte",
         "start_at": now - 3 * DAY},
        {"text": "user: I stopped going to brockwell, doing spin classes at the leisure centre instead",
         "start_at": now - 2 * DAY},
        {"text": "user: I left my keys at the office again", "start_at": now - 1 * DAY},
    ])
    for question in ("Who is my boss?", "Who do I report to?"):
        await first_of(server, agent["id"], question, left, [boss])
    await first_of(server, agent["id"], "Where do I exercise?", stopped, [pool])
    # an ending that names no value of the fact ("left my keys") replaces nothing, nor do other facts move
    found = await first_of(server, agent["id"], "Who is my dentist?", dentist, [])
    assert all(not p["previously"] for p in found if p["id"] == keys)
    assert job and thali


async def test_an_ending_in_a_third_person_note_replaces_the_note_it_names(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    dog, bike, died, sold, *_ = await batch(server, agent["id"], [
        {"text": "The user has a dog, Pepper, a twelve-year-old collie, on a low-fat prescription diet.",
         "start_at": now - 60 * DAY},
        {"text": "The user rides a red Brompton folding bike to the station.", "start_at": now - 50 * DAY},
        {"text": "Pepper died in the spring; the user is thinking about a rescue greyhound.",
         "start_at": now - 5 * DAY},
        {"text": "The user sold the Brompton and now takes the bus to the station.", "start_at": now - 4 * DAY},
        {"text": "The user's sister works at a bakery in Leeds.", "start_at": now - 40 * DAY},
        {"text": "The user is allergic to penicillin.", "start_at": now - 45 * DAY},
    ])
    await first_of(server, agent["id"], "What does my dog eat?", died, [dog])
    found = await search(server, agent["id"], "How do I get to the station?", limit=3)
    assert found[0]["id"] == sold and bike in found[0]["previously"], [p["text"] for p in found]
