"""Near misses of a detail the memory names but never gives, through the real server and a real SQLite file
(recall/carried.py; roles.py's months and roles, kinds.py's series): an identifier asked and only a date said, an
outcome asked of an event only arranged, an attribute of a holder the passage names alone, a month's name that is a
child's. Facts written for these tests."""

from __future__ import annotations

from tests.integration.agent.conftest import Running
from tests.integration.memory.test_near_miss_qualifiers import _agent, _top
from tests.integration.memory.test_near_miss_values import _confident


async def _abstains(server: Running, agent_id: str, question: str) -> None:
    top = await _top(server, agent_id, question)
    assert float(top["confidence"]) < 0.5, (question, top)


async def test_an_identifier_asked_and_only_a_date_said(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: HR at the Royal Infirmary rang, I start on March 3rd instead of April, badge photo on the first day",
        "user: parking at the Royal Infirmary is £4 a day, the multi-storey on Lauriston Place"])
    await _abstains(server, agent_id, "What's my staff number at the Royal Infirmary?")
    await _confident(server, agent_id, "When do I start at the Royal Infirmary?", ids[0], True)


async def test_an_outcome_asked_of_an_event_only_arranged(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: the hospital rang, my shoulder scan is moved to Monday the 9th at 2pm"])
    await _abstains(server, agent_id, "What did my shoulder scan show?")
    await _confident(server, agent_id, "When is my shoulder scan?", ids[0], True)


async def test_a_childs_name_that_is_a_month(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "The user's daughters are Maya (7) and April (4).",
        "Maya's shoe size: UK 12.",
        "April started ballet on Saturdays at the church hall."])
    await _abstains(server, agent_id, "What's April's shoe size?")
    await _confident(server, agent_id, "What's Maya's shoe size?", ids[1], True)


async def test_a_detail_said_only_with_its_own_words(server: Running) -> None:
    """A birthday, an end time, a person asked by a role: the passage names the holder or the thing, never the
    detail (recall/carried.py ``unsaid_kind``, ``no_end``; recall/names.py ``missing_person``)."""
    agent_id, ids = await _agent(server, [
        "Omar's swimming moved to Thursday 17:30 because the pool is busy on Wednesdays",
        "Omar had a check-up, his dentist said no fizzy drinks 🙂 back to school Monday",
        "Omar's bday is the 3rd of May, he wants a bike"])
    await _abstains(server, agent_id, "What time does Omar's swimming finish?")
    await _abstains(server, agent_id, "Who is Omar's dentist?")
    await _confident(server, agent_id, "When is Omar's birthday?", ids[2], True)
