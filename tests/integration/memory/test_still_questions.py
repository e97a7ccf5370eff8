"""A question whether a state still holds (recall/facts.py ``Query.still``, recall/updates.py ``newest_first``),
through the real server. Found by test12 (blind in session 13): "do i still have a loose tooth" ranked the loose tooth
above "my tooth fell out at lunch!!!" (the two lines 0.49 alike: under the 0.55 of near-duplicates, and no change word),
"Am I still driving Chachu's car?" the borrowed car above the Roman Urdu line that returns it (0.16 to the question).
The question says itself that the state may have ended: the user's later line naming the same item is its newer
version. The conversations here are written for the test (not test12's)."""

from __future__ import annotations

import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.memory.test_recall import batch, search

DAY = 86400.0
WOBBLY = "user: my front tooth is super wobbly, it moves when I eat apples"
OTHER = ["user: the canteen does a decent lentil soup on mondays",
         "user: my sister's flight from Accra lands on the 14th", "user: the quiz team is called the Pub Tangents"]
LAST = "user: rang the council about the bins again, nobody answers"


async def _said(server: Running, ending: str) -> tuple[str, list[str]]:
    agent = await create_voice_agent(server)
    now = time.time()
    texts = [WOBBLY, *OTHER, ending, LAST]
    ids = await batch(server, agent["id"], [{"text": t, "start_at": now - (12 - 2 * i) * DAY}
                                            for i, t in enumerate(texts)])
    return agent["id"], ids


async def test_a_later_line_that_ends_the_state_answers_whether_it_still_holds(server: Running) -> None:
    agent, ids = await _said(server, "user: my front tooth came out at lunch!! the tooth fairy owes me a dollar")
    wobbly, out = ids[0], ids[4]
    for question in ("Is my tooth still wobbly?", "do i still have a wobbly tooth"):
        found = await search(server, agent, question, limit=3)
        assert found[0]["id"] == out and wobbly in found[0]["previously"], (question, [p["text"] for p in found])


async def test_the_same_item_of_someone_else_ends_nothing(server: Running) -> None:
    agent, ids = await _said(server, "user: my little brother Sam's front tooth came out at lunch!! the tooth fairy "
                                     "owes him a dollar")
    wobbly = ids[0]
    found = await search(server, agent, "Is my tooth still wobbly?", limit=3)
    assert found[0]["id"] == wobbly and not found[0]["previously"], [p["text"] for p in found]
    assert all(wobbly not in p["previously"] for p in found)
