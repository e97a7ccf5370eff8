"""Messages stored as an export or a mail integration keeps them (recall/text.py ``is_email``, ``message_body``),
through the real server. Found by qa's test8 (blind in session 9): a mail's headers ("From:", "To:", "Date:") were
read as speakers, so no mail was the user's and no later mail of a thread (the agent's, the landlord's) was a version
of an earlier one; and messages of one export are alike by their envelopes (the date line, the sender's line), so a
friend's message about one thing was listed as replacing the user's message about another. The messages here are
written for the test (not test8's)."""

from __future__ import annotations

import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.memory.test_recall import batch, first_of, search

DAY = 86400.0


def _mail(sender: str, to: str, date: str, body: str) -> str:
    return (f"From: {sender}\nTo: {to}\nDate: {date}\nSubject: Re: Flat 2, 9 Quay Street\n\n{body}\n\n"
            f"Kind regards,\n{sender.split('<')[0].strip()}\nQuayside Lettings | 021 455 0199")


async def test_a_later_mail_of_a_thread_from_another_sender_changes_the_point_it_names(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    agent_mail, landlord_mail, moved = await batch(server, agent["id"], [
        {"text": _mail("Orla Quinn <orla@quaysidelettings.ie>", "Sam Reyes <sam.reyes@mail.com>",
                       "Mon, 2 Mar 2026 10:04",
                       "Hi Sam,\n\nThe lease is ready to sign. Key collection is at our office on Grand Parade on "
                       "14 March between 9 and 5, and the meter readings will be taken on the day."),
         "start_at": now - 30 * DAY},
        {"text": _mail("Brendan Hayes <bhayes@eircom.net>", "Sam Reyes <sam.reyes@mail.com>",
                       "Thu, 5 Mar 2026 18:40",
                       "Dear Sam,\n\nA few practical points: recycling goes out on Tuesday night and the heating is "
                       "serviced by Lee Boilers every October."),
         "start_at": now - 25 * DAY},
        {"text": _mail("Orla Quinn <orla@quaysidelettings.ie>", "Sam Reyes <sam.reyes@mail.com>",
                       "Tue, 10 Mar 2026 09:12",
                       "Hi Sam,\n\nApologies, our office is closed that week. Brendan will meet you at the flat to "
                       "hand over the keys on 14 March at 10am instead."),
         "start_at": now - 20 * DAY},
    ])
    # the later mail of the thread gives the key collection anew: the current one, the first mail what it replaces
    await first_of(server, agent["id"], "Where do I collect the keys for the flat?", moved, [agent_mail])
    # the landlord's practical points are not replaced by a mail that does not name them
    found = await search(server, agent["id"], "What night does the recycling go out?", limit=3)
    assert found[0]["id"] == landlord_mail and not found[0]["previously"], [p["text"] for p in found]


def _imessage(day: str, sender: str, text: str) -> str:
    return f"{day}  7:41 PM\n{sender}\n{text}"


async def test_messages_of_an_export_are_versions_only_of_what_they_say(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    said = [("Oct 02, 2026", "Me", "choir concert is oct 20 at the town hall, wear black"),
            ("Oct 03, 2026", "Me", "got the job at the bakery!! sat + sun 8-1"),
            ("Oct 05, 2026", "Me", "chem exam is thurs, so stressed abt it"),
            ("Oct 06, 2026", "Dad", "your dentist appt is nov 3 at 4, ill drive"),
            ("Oct 07, 2026", "Jordan", "chem exam got pushed to next mon bc the lab flooded"),
            ("Oct 08, 2026", "Me", "sam and i are done lol. going to homecoming w the squad instead"),
            ("Oct 09, 2026", "Me", "the bakery changed my hours, its fri 4-8 + sun 8-1 now"),
            ("Oct 10, 2026", "Jordan", "car wash fundraiser is sat at the gym now, bring towels")]
    ids = await batch(server, agent["id"], [{"text": _imessage(*m), "start_at": now - (30 - k) * DAY}
                                            for k, m in enumerate(said)])
    concert, job, exam, dentist, moved_exam, _, hours, car_wash = ids
    # a friend's message that changes the exam is its current version (on main 15263fd the car wash, alike it only by
    # its envelope, was placed first as replacing the exam and its move)
    await first_of(server, agent["id"], "When is my chem exam?", moved_exam, [exam])
    await first_of(server, agent["id"], "What are my hours at the bakery?", hours, [job])
    # ... and of nothing else
    for question, answer in (("Where is the choir concert?", concert), ("When is my dentist appointment?", dentist)):
        found = await search(server, agent["id"], question, limit=5)
        assert found[0]["id"] == answer and not found[0]["previously"], [p["text"] for p in found]
        assert not any(p["previously"] for p in found if p["id"] == car_wash), [p["text"] for p in found]


async def test_a_label_in_an_exported_message_is_no_speaker(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    plan, _, moved = await batch(server, agent["id"], [
        {"text": _imessage("Nov 20, 2026", "Me", "book swap: i got priya. $10 limit. swap is fri in homeroom"),
         "start_at": now - 12 * DAY},
        {"text": _imessage("Nov 22, 2026", "Me", "scoops changed my shifts, its fri nights now"),
         "start_at": now - 10 * DAY},
        {"text": _imessage("Nov 27, 2026", "Kayla", "book swap is tuesday lunch in the library now, mr ortiz said"),
         "start_at": now - 5 * DAY},
    ])
    # "book swap:" opens the message's body, it names no speaker: the message is the user's export, and a friend's
    # later message moving the swap is its current version (on main 15263fd the older one ranked first, unlinked)
    await first_of(server, agent["id"], "When is the book swap?", moved, [plan])

