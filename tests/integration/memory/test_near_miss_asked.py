"""Near misses of what a question asks, through the real server and a real SQLite file (recall/asked.py): another day
of the week, a time of day asked and none said, the asked thing as another holder's, no way back when "back" is a
room's; and a phone number asked after a title with a period ("Dr. Moreau"). Facts written for these tests."""

from __future__ import annotations

from tests.integration.agent.conftest import Running
from tests.integration.memory.test_near_miss_qualifiers import _agent
from tests.integration.memory.test_near_miss_values import _confident


async def test_another_day_of_the_week_is_not_an_answer(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: swimming club is mondays and wednesdays at six at the leisure centre",
        "user: the school run is mine monday to friday, we leave at eight fifteen"])
    await _confident(server, agent_id, "What time is swimming club on Thursdays?", ids[0], False)
    await _confident(server, agent_id, "What time is swimming club on Wednesdays?", ids[0], True)
    await _confident(server, agent_id, "When do we leave for the school run on Thursdays?", ids[1], True)  # a range


async def test_a_time_of_day_asked_needs_one_said(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: the book club meets at the library on the second tuesday of the month",
        "user: choir practice is at half seven in the church hall"])
    await _confident(server, agent_id, "What time does the book club meet?", ids[0], False)
    await _confident(server, agent_id, "Where does the book club meet?", ids[0], True)
    await _confident(server, agent_id, "What time is choir practice?", ids[1], True)


async def test_the_asked_thing_said_as_another_holders_is_not_an_answer(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "[02/03/2026, 10:15] Nadia: mum's allergic to penicillin, tell the surgery\n"
        "[02/03/2026, 10:16] Felix: will do"])
    await _confident(server, agent_id, "What is Nadia allergic to?", ids[0], False)
    await _confident(server, agent_id, "What is mum allergic to?", ids[0], True)
    own_id, own = await _agent(server, [
        "[02/03/2026, 10:15] Nadia: I'm allergic to penicillin, mum's allergic to nothing at all\n"
        "[02/03/2026, 10:16] Felix: noted"])
    await _confident(server, own_id, "What is Nadia allergic to?", own[0], True)  # her own words about herself
    user_id, said = await _agent(server, ["user: tomasz is allergic to penicillin, he told the pharmacist"])
    await _confident(server, user_id, "Am I allergic to anything?", said[0], False)  # the user asks: it is tomasz's
    await _confident(server, user_id, "What is Tomasz allergic to?", said[0], True)


async def test_a_back_room_is_no_way_back(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "[11/04/2026, 18:02] Sunil: we've got the back room at the Fox for the quiz\n"
        "[11/04/2026, 18:05] Sunil: cousin Arjun lands in Dublin on the 3rd for two weeks"])
    await _confident(server, agent_id, "When does cousin Arjun fly back to Delhi?", ids[0], False)
    await _confident(server, agent_id, "When does cousin Arjun land in Dublin?", ids[0], True)


async def test_a_phone_number_asked_after_a_title_with_a_period(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "Dr. Lindqvist retired. The user now sees Dr. Aurelie Moreau at the same practice."])
    await _confident(server, agent_id, "What's Dr. Moreau's phone number?", ids[0], False)
    await _confident(server, agent_id, "Which doctor does the user see now?", ids[0], True)


async def test_a_sum_of_another_kind_is_not_an_answer(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: rent on the Leith flat is £1,150 a month, due on the 1st",
        "- [x] broadband moved to Zen, £28/mo"])
    await _confident(server, agent_id, "What is the deposit on the Leith flat?", ids[0], False)
    await _confident(server, agent_id, "How much is the rent on the Leith flat?", ids[0], True)
    await _confident(server, agent_id, "How much do I pay for broadband?", ids[1], True)  # "£28/mo" is a sum


async def test_a_later_version_is_judged_with_what_it_replaces(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: my dentist appointment is tuesday at half ten",
        "user: the dentist moved my appointment to thursday"])
    # the change names no time: the first booking's half ten still holds, so the current version is an answer
    await _confident(server, agent_id, "What time is my dentist appointment?", ids[1], True)
    await _confident(server, agent_id, "What time is my dentist appointment on Saturday?", ids[1], False)
