"""Near misses of another thing of the same kind, of another of the user's people, of a number in another sender's
signature and of an arrival when only the sending is said (recall/kinds.py, recall/asked.py); and a record's fields
answer together (recall/values.py). Through the real server and a real SQLite file; facts written for these tests."""

from __future__ import annotations

from tests.integration.agent.conftest import Running
from tests.integration.memory.test_near_miss_qualifiers import _agent
from tests.integration.memory.test_near_miss_values import _confident


async def test_another_thing_of_the_same_kind_is_not_an_answer(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: for the lakes on friday it's the 07:12 train from Euston to Oxenholme, then a taxi to the cottage",
        "user: rahul's mehndi is on the ninth at the community hall in Leicester, the whole family is going"])
    await _confident(server, agent_id, "Which bus do I take to the cottage in the lakes?", ids[0], False)
    await _confident(server, agent_id, "Which train do I take to the cottage in the lakes?", ids[0], True)
    await _confident(server, agent_id, "When is Rahul's walima?", ids[1], False)
    await _confident(server, agent_id, "When is Rahul's mehndi?", ids[1], True)


async def test_a_records_fields_answer_together(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "---\nkind: bill\nhome: the boat\nbill: mooring\nprovider: Lowther Marina\nmonthly: 210.00",
        "---\nkind: service\nhome: the boat\nwhat: engine service\nengineer: Ross Dunlop\nnext_due: 2027-04"])
    await _confident(server, agent_id, "How much is the mooring for the boat?", ids[0], True)
    await _confident(server, agent_id, "When is the boat's engine service next due?", ids[1], True)


async def test_another_of_the_users_people_is_not_an_answer(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: the practice rang, dad's dentist appointment is now the ninth of march at twenty past two"])
    await _confident(server, agent_id, "When is mama's dentist appointment?", ids[0], False)
    await _confident(server, agent_id, "When is dad's dentist appointment?", ids[0], True)


async def test_a_number_in_another_senders_signature_is_not_theirs(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "From: Harbour Removals <jobs@harbourremovals.co.uk>\nTo: Ines Costa <ines.costa@example.com>\n"
        "Date: Mon, 7 Dec 2026 10:02\nSubject: Gareth, your driver\n\nHi Ines,\n\nGareth will drive the van on the "
        "14th and will phone you from the road.\n\nKind regards,\nHarbour Removals\nM: 07700 900 412"])
    await _confident(server, agent_id, "What's Gareth's phone number?", ids[0], False)
    await _confident(server, agent_id, "What's the phone number of Harbour Removals?", ids[0], True)


async def test_an_arrival_is_not_answered_by_the_sending(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: the big box for my cousins in Lagos ships on the fourth of december from the depot in Peckham"])
    await _confident(server, agent_id, "When does the box arrive in Lagos?", ids[0], False)
    await _confident(server, agent_id, "When does the box for Lagos ship?", ids[0], True)


async def test_another_of_the_same_series_is_not_an_answer(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "Priya  7:02 PM\nIndoor season for the U10 Hawks: Mondays 6-7pm at the sports centre, court 2.",
        "Priya  6:40 PM\nNew jerseys arrived! Hawks are maroon with white numbers this year. Pick up from my porch."
        "\n:tada: 6",
        "Sam  8:10 PM\nparty is at the Lees' house on the 12th, pizza on the club"])
    await _confident(server, agent_id, "What colour are the U12 jerseys?", ids[1], False)
    await _confident(server, agent_id, "What colour are the Hawks' jerseys?", ids[1], True)


async def test_a_place_asked_needs_one_said(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "user: tomas is cutting back to four days a week, he's started a woodwork course\nassistant: Good for him.",
        "user: my sister's choir rehearses at st mary's hall on thursdays"])
    await _confident(server, agent_id, "Where is Tomas's woodwork course?", ids[0], False)
    await _confident(server, agent_id, "What has Tomas started?", ids[0], True)
    await _confident(server, agent_id, "Where does my sister's choir rehearse?", ids[1], True)
