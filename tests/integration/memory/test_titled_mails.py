"""Messages exported with a title line above their header block (recall/mails.py ``mail_lines``), through the real
server. Found by test12 (blind in session 13): a co-parenting app's export puts "Message" above "Sent: / From: / To: /
First Viewed: / Subject:", so the block was no mail's header, "First Viewed" was read as a speaker (nobody's) and no
message of the thread was a version of another: the first appointment stayed on top after it moved. The conversation
here is written for the test (a tenants' portal, not test12's)."""

from __future__ import annotations

import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.memory.test_recall import batch, search

DAY = 86400.0


def _message(sent: str, sender: str, subject: str, body: str) -> str:
    return (f"Portal message\nFrom: {sender}\nTo: Sam Ortiz\nSent: {sent}\nRead: {sent}\nSubject: {subject}\n\n"
            f"{body}")


# every message of a building's portal names the boiler and several a service: no word of the question is the one
# item's alone, so only the thread's own versions can tell which booking holds
THREAD = [
    _message("11/03/2026 09:14", "Dana Reyes (Building Office)", "Boiler service",
             "The annual boiler service for flat 4B is booked for Nov 12 at 10 AM. The engineer is from HeatRight."),
    _message("11/04/2026 11:20", "Dana Reyes (Building Office)", "Boiler pressure",
             "If the boiler pressure drops below 1 bar, top it up with the grey tap under the boiler."),
    _message("11/05/2026 18:02", "Dana Reyes (Building Office)", "Lift service",
             "The lift service is on Friday morning; please use the stairs until noon."),
    _message("11/06/2026 08:45", "Dana Reyes (Building Office)", "Boiler manuals",
             "Manuals for the new boilers are in the lobby rack, and the service log is on the office door."),
    _message("11/08/2026 16:40", "Dana Reyes (Building Office)", "RE: Boiler service",
             "HeatRight called: the boiler service for flat 4B is now Nov 19 at 2 PM instead."),
    _message("11/09/2026 08:30", "Dana Reyes (Building Office)", "Recycling",
             "Glass recycling moves to the blue bins by the car park gate."),
]


async def test_a_titled_message_that_moves_an_appointment_replaces_the_first(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    ids = await batch(server, agent["id"], [{"text": t, "start_at": now - (12 - 2 * i) * DAY}
                                            for i, t in enumerate(THREAD)])
    booked, moved = ids[0], ids[4]
    found = await search(server, agent["id"], "When is the boiler service?", limit=3)
    assert found[0]["id"] == moved and booked in found[0]["previously"], [p["text"][-60:] for p in found]

