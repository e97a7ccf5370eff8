"""Passages that are mostly format (an export's JSON objects, a calendar entry, an HTML mail, CSV rows) are found and
answered by their words, not their keys, ids, attributes or markup (recall/plain.py); a number in a message's
envelope is its correspondent's (recall/asked.py). Through the real server and a real SQLite file; exports written
for these tests in formats the held-out halves lack."""

from __future__ import annotations

from tests.integration.agent.conftest import Running
from tests.integration.memory.test_near_miss_qualifiers import _agent
from tests.integration.memory.test_near_miss_values import _confident

_TEAMS = ('{{"id": "16169900{n}", "replyToId": null, "etag": "16169900{n}", "messageType": "message", '
          '"createdDateTime": "2027-03-0{n}T09:14:05.123Z", "lastModifiedDateTime": null, "deletedDateTime": null, '
          '"subject": null, "importance": "normal", "locale": "en-us", "from": {{"application": null, "device": null, '
          '"user": {{"id": "8ea0e38b-efb3-4757-924a-5f94061cf8c{n}", "displayName": "{who}", '
          '"userIdentityType": "aadUser"}}}}, "body": {{"contentType": "html", '
          '"content": "<div><p>{said}</p></div>"}}, "attachments": [], "mentions": [], "reactions": []}}')


async def test_a_teams_exports_messages_are_answered_by_what_they_say(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        _TEAMS.format(n=1, who="Robin Kline", said="The quarterly offsite is at the Meridian hotel in Leeds, the "
                      "Harbour Room, starting Thursday at 9:30"),
        _TEAMS.format(n=2, who="Sade Bello", said="My parking permit number for the Wharf Street garage is "
                      "WS-4471, I keep forgetting it"),
        _TEAMS.format(n=3, who="Robin Kline", said="Lunch order for Friday: I'll have the falafel wrap, no "
                      "onions please")])
    await _confident(server, agent_id, "Where is the quarterly offsite?", ids[0], True)
    await _confident(server, agent_id, "What's Sade's parking permit number?", ids[1], True)


async def test_a_calendar_entry_and_an_html_mail_are_answered_by_their_words(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example Corp//Cal 1.0//EN\r\nBEGIN:VEVENT\r\n"
        "UID:7f3c9a12-55d0-4bd1-9d2e-0c1f5e7b9a44@cal.example\r\nDTSTAMP:20270301T100000Z\r\nSEQUENCE:0\r\n"
        "SUMMARY:Physiotherapy for my shoulder with Dr Amaka Eze\r\nDTSTART;TZID=Europe/London:20270311T153000\r\n"
        "DTEND;TZID=Europe/London:20270311T161500\r\nLOCATION:Riverside Clinic\\, 14 Mill Lane\r\nSTATUS:CONFIRMED\r\n"
        "TRANSP:OPAQUE\r\nEND:VEVENT\r\nEND:VCALENDAR",
        '<!DOCTYPE html><html><head><meta charset="utf-8"><style>td {font-family: Arial; color: #333}</style>'
        '</head><body><table width="100%" cellpadding="0"><tr><td><p>Dear Ms Okafor,</p><p>Your boiler service '
        'with <b>Heatwise Plumbing</b> is booked for <i>Monday 15 March</i> between 8am and noon. The engineer '
        'will be Tomasz.</p><p>Kind regards,<br>Heatwise Bookings</p></td></tr></table>'
        '<img src="https://track.example/p.gif" width="1" height="1"></body></html>',
        "user: my sister's band plays the Crown on saturday, doors at eight"])
    await _confident(server, agent_id, "When is my physiotherapy?", ids[0], True)
    await _confident(server, agent_id, "Who is doing the boiler service?", ids[1], True)


async def test_a_number_in_a_messages_envelope_is_not_someone_it_names(server: Running) -> None:
    agent_id, ids = await _agent(server, [
        '{"message_id": 88214, "thread_id": 412, "timestamp_ms": 1803975340000, "direction": "incoming", '
        '"from": "+447700900123", "contact": "Mr Adeyemi (landlord)", "read": true, "body": "Electrician is Kwame '
        'from BrightSpark, he will come Thursday 10am to fix the fuse box"}'])
    await _confident(server, agent_id, "What's the electrician's phone number?", ids[0], False)
    await _confident(server, agent_id, "Who is the electrician?", ids[0], True)


async def test_a_passage_of_thousands_of_nested_brackets_is_stored_and_searched(server: Running) -> None:
    agent_id, ids = await _agent(server, ['{"n": ' * 1500 + '"the spare key is under the blue pot"' + "}" * 1500,
                                          "[" * 6000 + "]" * 6000,
                                          "user: the spare key for the shed is with Mrs Oduya at number 12"])
    assert len(ids) == 3
    await _confident(server, agent_id, "Where is the spare key for the shed?", ids[2], True)
