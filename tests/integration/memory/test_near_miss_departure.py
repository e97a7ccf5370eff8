"""Near misses of a departure answered by an arrival, and of someone's thing answered by the speaker's own
(recall/asked.py). Through the real server and a real SQLite file; facts written for these tests."""

from __future__ import annotations

from tests.integration.agent.conftest import Running
from tests.integration.memory.test_near_miss_qualifiers import _agent
from tests.integration.memory.test_near_miss_values import _confident


async def test_an_arrival_does_not_answer_when_someone_leaves(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: my cousin Ilse comes from Porto on the third of march, I'll pick her up at the airport at noon",
        "user: the boiler man comes on tuesday morning"])
    await _confident(server, agent_id, "When does Ilse leave Porto?", ids[0], False)
    await _confident(server, agent_id, "When does Ilse arrive?", ids[0], True)


async def test_the_speakers_own_thing_is_not_someone_elses(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: kemal rang the clinic and moved my dentist appointment to friday the ninth at half two",
        "user: the boiler man comes on tuesday morning"])
    await _confident(server, agent_id, "When is Kemal's dentist appointment?", ids[0], False)
    await _confident(server, agent_id, "When is my dentist appointment?", ids[0], True)
