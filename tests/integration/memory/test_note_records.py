"""Markdown notes as records (recall/records.py) through the real server. Found by qa's test6 (blind in session 7): a
list item's key ("- Plumber: Dave Ruiz") was read as a speaker's name, so the note was nobody's and no update rule
linked "- Dave retired, new guy: Kenji" to it; read as one passage, a later note that changed one item ("Kitchen budget
raised to $41,500") replaced the whole record, also for "Who is doing the kitchen?". A later note is a new version of a
record only for the item it changes. The notes here are written for the test (not test6's lines)."""

from __future__ import annotations

import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.memory.test_recall import batch, first_of, search

DAY = 86400.0


async def test_a_later_note_replaces_only_the_item_it_changes(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    loft, boiler, money, shed, engineer, requote, seeds = await batch(server, agent["id"], [
        {"text": "## Loft conversion\n- Builder: Carver & Daughters (Ruth Carver)\n- Budget: £52,000 all in\n"
                 "- Start: March 3\n- Windows: velux, four of them", "start_at": now - 40 * DAY},
        {"text": "## Boiler\n- Engineer: Tom Bright, 07700 900123\n- Serviced 02/10, £90\n- Next: power flush",
         "start_at": now - 30 * DAY},
        {"text": "## Money\n- Loft budget raised to £55,500 (steel beams + blinds)\n- Rainy-day pot: £3,000",
         "start_at": now - 20 * DAY},
        {"text": "## Garden\n- Shed quote: Hartley Sheds £1,900, larch\n- Council ok needed first",
         "start_at": now - 15 * DAY},
        {"text": "## Boiler\n- Tom has stopped doing call-outs, the new engineer is Priya Shah, 07700 900456",
         "start_at": now - 10 * DAY},
        {"text": "## Garden\n- Hartley re-quoted £1,650 for spruce, we said yes.", "start_at": now - 5 * DAY},
        {"text": "## Garden\n- Sowed tomato seeds in the greenhouse", "start_at": now - 2 * DAY},
    ])
    # the budget note changes the record's budget, not who builds the loft
    await first_of(server, agent["id"], "What's the loft budget?", money, [loft])
    found = await search(server, agent["id"], "Who is doing the loft?", limit=3)
    assert found[0]["id"] == loft and not found[0]["previously"], [p["text"] for p in found]
    # an item's key is no speaker: the note is the user's, and a later note naming its value replaces it
    await first_of(server, agent["id"], "Who services our boiler?", engineer, [boiler])
    await first_of(server, agent["id"], "What's the boiler engineer's phone number?", engineer, [boiler])
    # a new value of the item's kind for the same holder ("Hartley"), with no change word, is a new version
    await first_of(server, agent["id"], "How much is the shed going to cost?", requote, [shed])
    assert seeds
