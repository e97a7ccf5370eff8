"""Versions said by someone else (recall/updates.py ``newest_first``, recall/cued.py ``same_item``), through the real
server. Found by test10 (blind in session 11): the user keeps what other people send them (voicemail transcripts, a
mailing list's digests, a relative's messages), every one under a label read as its speaker, and a later message of
the same sender saying the same item with another value (often with no change word, in any language) stayed under the
older one: only the user's own lines could be versions. A sender's messages are alike by their envelope (the sender
line, the label), so the two must share a word of the question that few passages say. The messages here are written
for the test (not test10's)."""

from __future__ import annotations

import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.memory.test_recall import batch, first_of, search

DAY = 86400.0
COACH = "SMS from Coach Farid (+44 7700 900412)\nMessage: "
LEILA = "SMS from Leila Haddad (+44 7700 900733)\nMessage: "
SURGERY = "SMS from Dr Osei's surgery (+44 161 496 0021)\nMessage: "


async def test_a_senders_later_message_with_another_value_is_the_newer_version(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    texts = [
        COACH + "U12 tournament is Saturday 14 March at Hollins Park, kick-off 9:00, red kit",
        COACH + "subs for the spring term are £45, pay by bank transfer please",
        LEILA + "I can drive four of the kids to the tournament",
        SURGERY + "your flu jab is booked for Tuesday 3 March at 10:40",
        COACH + "training is Thursdays 18:00 at the leisure centre until Easter",
        LEILA + "Noor's party is at the trampoline park on the 21st",
        COACH + "U12 tournament Sunday 15 March at Hollins Park, kick-off 10:30, red kit",
        SURGERY + "reminder: bring your NHS number to every appointment",
        LEILA + "the carpool leaves from the school gate at 9:45",
        COACH + "well played on Saturday, the lads were brilliant against Ashton",
    ]
    ids = await batch(server, agent["id"], [
        {"text": t, "start_at": now - (40 - 3 * k) * DAY} for k, t in enumerate(texts)])
    # the same template with the day and the time swapped, no change word: the coach's newer message first
    await first_of(server, agent["id"], "When is the U12 tournament?", ids[6], [ids[0]])
    # the coach's other messages are alike the tournament's by their envelope, not versions of it or of each other
    found = await search(server, agent["id"], "When is training?", limit=3)
    assert found[0]["id"] == ids[4] and not found[0]["previously"], [p["text"] for p in found]
    found = await search(server, agent["id"], "When is my flu jab?", limit=3)
    assert found[0]["id"] == ids[3] and not found[0]["previously"], [p["text"] for p in found]
    # another sender's message on the same item is hers, not a version of the coach's
    found = await search(server, agent["id"], "Who is driving the kids to the tournament?", limit=3)
    assert found[0]["id"] == ids[2] and not found[0]["previously"], [p["text"] for p in found]
