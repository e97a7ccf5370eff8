"""Records in the layouts client apps store them in (recall/layouts.py, recall/records.py), through the real server.
Found by qa's test7 (blind in session 8): a JSON object was the line of a speaker '{"kind"' (nobody's, so no update
rule saw a later object of the same kind with one field changed), a Markdown table's later bare row was no version of
its row, and a change told with no change word in a question that offers two values ("earlies or nights?") was not
linked. The records here are written for the test (not test7's)."""

from __future__ import annotations

import json
import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.memory.test_recall import batch, first_of, search

DAY = 86400.0


def _obj(**fields: object) -> str:
    return json.dumps(fields)


async def test_a_later_json_object_of_the_same_holder_is_the_current_one(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    vet, mochi, pepper, contact, moved, mochi_food = await batch(server, agent["id"], [
        {"text": _obj(kind="appointment", **{"with": "Dr Lund"}, what="vaccination", date="2027-01-12", time="09:15"),
         "start_at": now - 30 * DAY},
        {"text": _obj(kind="pet", name="Mochi", species="cat", food="Purrfect kibble", groomer="Fluff & Co"),
         "start_at": now - 25 * DAY},
        {"text": _obj(kind="pet", name="Pepper", species="cat", food="wet only", groomer="Fluff & Co"),
         "start_at": now - 20 * DAY},
        {"text": _obj(kind="contact", name="Dr Lund", role="vet", phone="0301 555 0101"), "start_at": now - 15 * DAY},
        {"text": _obj(kind="appointment", **{"with": "Dr Lund"}, what="vaccination", date="2027-01-19", time="11:40",
                      note="surgery rang"), "start_at": now - 10 * DAY},
        {"text": _obj(kind="pet", name="Mochi", species="cat", food="renal diet", note="vet's advice"),
         "start_at": now - 5 * DAY},
    ])
    # the rebooked object, no change word: the same kind and holder with its date and time changed
    await first_of(server, agent["id"], "When is the vaccination appointment?", moved, [vet])
    await first_of(server, agent["id"], "What time is the appointment with Dr Lund?", moved, [vet])
    await first_of(server, agent["id"], "What does Mochi eat?", mochi_food, [mochi])
    # another holder of the same kind is no version: Pepper's record is not replaced by Mochi's later one
    found = await search(server, agent["id"], "What does Pepper eat?", limit=3)
    assert found[0]["id"] == pepper and not found[0]["previously"], [p["text"] for p in found]
    # a field the later object does not give is still the older one's: Mochi's groomer
    found = await search(server, agent["id"], "Who grooms Mochi?", limit=3)
    assert found[0]["id"] == mochi and not found[0]["previously"], [p["text"] for p in found]
    assert contact


async def test_a_bare_row_or_csv_line_is_a_new_version_of_its_row_only(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    table, csv, row, line = await batch(server, agent["id"], [
        {"text": "## Subscriptions\n| service | provider | price | renews |\n|---|---|---|---|\n"
                 "| streaming | Flixo | $15.99 | 1st |\n| music | Tunely | $9.99 | 20th |", "start_at": now - 30 * DAY},
        {"text": "club,coach,day,fee\nrowing,Hanne Berg,Tue,€40\nclimbing,Ole Dahl,Fri,€35",
         "start_at": now - 25 * DAY},
        {"text": "| streaming | Vidflix | $12.99 | 15th |", "start_at": now - 10 * DAY},
        {"text": "rowing,Ines Vik,Wed,€45", "start_at": now - 5 * DAY},
    ])
    await first_of(server, agent["id"], "How much do I pay for streaming?", row, [table])
    await first_of(server, agent["id"], "Who coaches my rowing?", line, [csv])
    # the rows they do not change are the older records' still
    found = await search(server, agent["id"], "When does my music subscription renew?", limit=3)
    assert found[0]["id"] == table and not found[0]["previously"], [p["text"] for p in found]
    found = await search(server, agent["id"], "What day is climbing?", limit=3)
    assert found[0]["id"] == csv and not found[0]["previously"], [p["text"] for p in found]


async def test_a_key_value_record_and_a_question_that_offers_two_values(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    lease, mornings, renewed, afternoons = await batch(server, agent["id"], [
        {"text": "kind: lease\nflat: 4 Harbour Row\nrent: 1,150 a month\nlandlord: Mr Okoro",
         "start_at": now - 40 * DAY},
        {"text": "user: I'm on mornings at the bakery this month", "start_at": now - 20 * DAY},
        {"text": "kind: lease\nflat: 4 Harbour Row\nrent: 1,220 a month\nlandlord: Mr Okoro",
         "start_at": now - 10 * DAY},
        {"text": "user: rota came through, it's afternoons for me until easter", "start_at": now - 3 * DAY},
    ])
    await first_of(server, agent["id"], "How much is my rent?", renewed, [lease])
    await first_of(server, agent["id"], "Am I working mornings or afternoons?", afternoons, [mornings])


async def test_a_later_line_changes_only_the_line_of_a_chunk_it_names(server: Running) -> None:
    # a stand-up pasted as one chunk holds one fact a line: a later change of one person's line is no news for a
    # question about another's (test5's stand-ups: "search reindex slipped to next tuesday")
    agent = await create_voice_agent(server)
    now = time.time()
    standup, slipped = await batch(server, agent["id"], [
        {"text": "[09:01] Lena: the billing export is mine, due on friday\n"
                 "[09:02] Raj: I'll look into the flaky login tests\n[09:03] Omar: I'm on the pager this week",
         "start_at": now - 10 * DAY},
        {"text": "[09:01] Lena: billing export slipped to next wednesday, the vendor api changed",
         "start_at": now - 5 * DAY},
    ])
    await first_of(server, agent["id"], "When is the billing export due?", slipped, [standup])
    found = await search(server, agent["id"], "Who is looking into the flaky login tests?", limit=3)
    assert found[0]["id"] == standup and not found[0]["previously"], [p["text"] for p in found]


async def test_a_change_gives_the_kind_of_value_said_next_to_it(server: Running) -> None:
    # meeting summaries say their own date in their heading: a later summary that cuts a budget is no new date of the
    # launch, the one whose date slips is (test7's meeting recorder)
    agent = await create_voice_agent(server)
    now = time.time()
    plan, moved, cut = await batch(server, agent["id"], [
        {"text": "Planning call, 3 Mar. Decisions: the Orbit beta opens on 20 April. You own the FAQ; Sven owns the "
                 "signup flow. Budget for the beta ads: €6,000.", "start_at": now - 30 * DAY},
        {"text": "Planning call, 17 Mar. The beta slips to 4 May: the auth vendor needs more time.",
         "start_at": now - 16 * DAY},
        {"text": "Budget review, 24 Mar. The April ad spend is cut to €4,000 after the quarterly review.",
         "start_at": now - 9 * DAY},
    ])
    await first_of(server, agent["id"], "When does the Orbit beta open?", moved, [plan])
    await first_of(server, agent["id"], "What's the budget for the beta ads?", cut, [plan])
