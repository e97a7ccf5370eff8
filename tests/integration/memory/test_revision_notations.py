"""Revisions told by their notation (recall/cues.py ``revised_values``, recall/updates.py ``revised_after``), through
the real server. Found by test9 (blind in session 10): a shared document's version history, where relatives change one
line of the plan as ``old → new`` or as a removed line followed by its added one, often in another language's words and
under their own name ("Comment (Rohan Shah): …"), kept the first revision on top: the cue words were absent, the
editors were read as other speakers, and every revision is alike every other by the document's title. What the
notation names as old is what it replaces. The conversations here are written for the test (not test9's)."""

from __future__ import annotations

import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.memory.test_recall import batch, first_of, search

DAY = 86400.0
TITLE = 'Page history: "Oma Greta\'s 80th (Kowalski-Brandt family)"'


async def test_a_revision_replaces_the_line_it_names_whoever_edited_it(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    plan, cake, hall, gifts, menu = await batch(server, agent["id"], [
        {"text": f"{TITLE}\n2 Oct 2026, 18:20 · Marta Brandt\n+ Date: Sat 14 Nov, lunch at 13:00\n"
                 "+ Venue: Gasthaus Linde, Kleinmachnow, back room\n+ Guests: 22\n+ Budget: EUR 1,400",
         "start_at": now - 40 * DAY},
        {"text": f"{TITLE}\n6 Oct 2026, 09:02 · Piotr Kowalski\n+ Cake: Konditorei Rabe, Sachertorte, pick up 11:30",
         "start_at": now - 35 * DAY},
        {"text": f"{TITLE}\n12 Oct 2026, 21:47 · Piotr Kowalski\n"
                 "Comment (Piotr Kowalski): Linde hat zu wegen Umbau, sorry\n"
                 "Venue: Gasthaus Linde, Kleinmachnow → Haus am See, Teltow",
         "start_at": now - 28 * DAY},
        {"text": f"{TITLE}\n15 Oct 2026, 08:10 · Marta Brandt\n+ Gifts: photo book (Marta), orchid (Piotr)",
         "start_at": now - 25 * DAY},
        {"text": f"{TITLE}\n19 Oct 2026, 17:33 · Ola Kowalska\nComment (Ola Kowalska): Rabe macht keine Torten mehr\n"
                 "− Cake: Konditorei Rabe, Sachertorte, pick up 11:30\n+ Cake: Café Lenz, Apfelstrudel, pick up 12:00",
         "start_at": now - 21 * DAY},
    ])
    # a relative's arrow names the venue line of the first revision: the newer venue first, the plan as replaced
    await first_of(server, agent["id"], "Which venue is Oma's 80th at?", hall, [plan])
    # a removed line followed by its added one replaces the line it removes, said by someone else again
    found = await search(server, agent["id"], "Which bakery is making the cake?", limit=3)
    assert found[0]["id"] == menu and cake in found[0]["previously"], [p["text"] for p in found]
    # the plan's other lines are the plan's still: the venue's revision does not replace it for the guests
    found = await search(server, agent["id"], "How many guests are coming to Oma's party?", limit=3)
    assert found[0]["id"] == plan and not found[0]["previously"], [p["text"] for p in found]
    assert gifts


async def test_a_struck_value_replaces_its_note_and_a_route_arrow_nothing(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    dentist, route, struck = await batch(server, agent["id"], [
        {"text": "## Health\n- Dentist: Dr Adeyemi, Tue 3 Dec 14:00\n- Physio: Fridays 8:15",
         "start_at": now - 20 * DAY},
        {"text": "Road trip: Lagos -> Ibadan on the 20th, Tunde driving", "start_at": now - 15 * DAY},
        {"text": "## Health\n- Dentist: Dr Adeyemi, ~~Tue 3 Dec 14:00~~ Thu 5 Dec 9:30 (they called)",
         "start_at": now - 5 * DAY},
    ])
    await first_of(server, agent["id"], "When is my dentist appointment?", struck, [dentist])
    # a route's arrow names no earlier value: nothing is replaced by it
    found = await search(server, agent["id"], "Who is driving to Ibadan?", limit=3)
    assert found[0]["id"] == route and not found[0]["previously"], [p["text"] for p in found]
