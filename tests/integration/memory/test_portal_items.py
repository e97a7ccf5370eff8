"""Items an app copies in with a header ("<App> · <kind>", "From: <sender>", a date line), through the real server.
Found by test9 (blind in session 10): a clinic portal's items were all the lines of a speaker 'from' (the header field
read as a name), so no change in them was anyone's to link and the first booking stayed on top after the clinic moved
it. A header field is no speaker (recall/text.py); and a next version of a change must still say what the question asks
when the change says it (recall/updates.py): items of one app are alike by their header. The items here are written for
the test (not test9's)."""

from __future__ import annotations

import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.memory.test_recall import batch, search

DAY = 86400.0


def _item(kind: str, sender: str, when: str, body: str) -> str:
    return f"PetPortal · {kind}\nFrom: {sender}\n{when}\n{body}"


async def test_a_portal_item_moved_by_the_clinic_replaces_the_booking(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    booked, groom, note, moved, groom_moved = await batch(server, agent["id"], [
        {"text": _item("Appointment booked", "Northside Vets", "Nov 2, 2026 10:02 AM",
                       "Booster vaccination for Biscuit with Dr Okafor: Nov 18, 9:40 AM."), "start_at": now - 30 * DAY},
        {"text": _item("Appointment booked", "Fluff & Buff Grooming", "Nov 4, 2026 6:15 PM",
                       "Full groom for Biscuit: Nov 21, 2:00 PM. Please bring his lead."), "start_at": now - 28 * DAY},
        {"text": _item("Message", "Dr Okafor", "Nov 6, 2026 8:30 AM",
                       "Please bring Biscuit's vaccination card to the booster."), "start_at": now - 26 * DAY},
        {"text": _item("Appointment moved", "Northside Vets", "Nov 9, 2026 11:20 AM",
                       "Biscuit's booster vaccination is now Nov 25, 4:10 PM (vet on leave)."),
         "start_at": now - 23 * DAY},
        {"text": _item("Appointment moved", "Fluff & Buff Grooming", "Nov 12, 2026 9:05 AM",
                       "Full groom moved to Nov 28, 11:00 AM (staff shortage)."), "start_at": now - 20 * DAY},
    ])
    found = await search(server, agent["id"], "When is Biscuit's booster vaccination?", limit=3)
    assert found[0]["id"] == moved and booked in found[0]["previously"], [p["text"] for p in found]
    # the groomer's own move is the groom's next version, not the booster's
    found = await search(server, agent["id"], "When is Biscuit's full groom?", limit=3)
    assert found[0]["id"] == groom_moved and booked not in found[0]["previously"], [p["text"] for p in found]
    assert groom and note
