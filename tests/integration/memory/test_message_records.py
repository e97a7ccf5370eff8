"""Chat exports' message records (JSON objects with a sender, a stamp and a text): the sender is the envelope, not
the holder of what the text says. A later message of the same sender about something else is no new version of an
earlier one (records.same_holder read the sender as the record's holder: every later message of a sender replaced
the earlier ones and took the top). Through the real server; messages written for this test."""

from __future__ import annotations

import json

from tests.integration.agent.conftest import Running
from tests.integration.memory.test_near_miss_qualifiers import _agent
from tests.integration.memory.test_near_miss_values import _confident


def _message(day: int, text: str) -> str:
    return json.dumps({"author": "Joana Reis", "sent_at": f"2026-11-{day}T09:12:00Z", "message": text,
                       "channel_id": "C04QX1"})


async def test_a_later_message_of_the_same_sender_about_something_else_is_no_version(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        _message(20, "my piano recital is on Saturday the 12th at 4pm in the school hall"),
        _message(24, "the vet said Biscuit needs his booster jab before January"),
        _message(28, "the boiler engineer is coming on Thursday morning between 8 and 10")])
    await _confident(server, agent_id, "When is my piano recital?", ids[0], True)
    await _confident(server, agent_id, "When is the boiler engineer coming?", ids[2], True)


async def test_a_later_message_that_changes_the_same_thing_is_still_its_version(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        _message(20, "my piano recital is on Saturday the 12th at 4pm in the school hall"),
        _message(24, "the vet said Biscuit needs his booster jab before January"),
        _message(28, "the piano recital moved to Sunday the 13th, same hall, 3pm")])
    await _confident(server, agent_id, "When is my piano recital?", ids[2], True)


async def test_a_stamped_line_gives_no_phone_number_or_price(server: Running) -> None:
    # an export's stamp ("2026-11-30 09:00:41") is a day and a time: its digits were read as a phone number and its
    # year as a sum, so a line about someone answered the question for their phone number
    agent_id, ids = await _agent(server, [
        "2026-11-30 09:00:41 Mum\nAunt Kemi's flight lands on Friday evening, she'll take a taxi from the airport",
        "2026-12-01 18:12:05 Dad\nthe garage says the car is ready Thursday, the bill is 240 pounds"])
    await _confident(server, agent_id, "What's Aunt Kemi's phone number?", ids[0], False)
    await _confident(server, agent_id, "When does Aunt Kemi's flight land?", ids[0], True)
    await _confident(server, agent_id, "How much is the garage bill?", ids[1], True)


async def test_the_users_own_thing_in_a_message_to_a_role_is_not_that_roles(server: Running) -> None:
    # an SMS backup's sent message to the contact "(landlord)": "my car" is the user's, not the landlord's
    agent_id, ids = await _agent(server, [
        '<sms address="+447700900148" date="1795083641000" type="2" body="my car registration for the residents\' '
        'parking permit: KX19 ABC, a blue Ford Fiesta" contact_name="Mrs Adeyemi (landlord)" />'])
    await _confident(server, agent_id, "What's the landlord's car registration?", ids[0], False)
    await _confident(server, agent_id, "What's my car registration?", ids[0], True)
