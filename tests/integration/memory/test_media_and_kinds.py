"""A window question whose only other words are the medium and who said it ("What did people post yesterday?", "What
mail came in yesterday?") lists the window: in a copied chat channel or an inbox every line is a post or a mail, and
ranked by "post" or "mail" the window's other lines were left out (test8 of bench/recall_holdout.json: a Slack
channel, a reply-all thread). And a question that describes what memory names ("my skin doctor" / "derm", "the
wedding" / "boda", "which relative" / "tía") finds it. Real server, real SQLite file, the REST search.
"""

from __future__ import annotations

import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent

DAY = 86400.0
HOUR = 3600.0
CHANNEL = [
    (3 * DAY, "Priya Nair  6:10 PM\nBook club is reading The Overstory for January, copies at the library desk"),
    (DAY + 2 * HOUR, "Tom Reyes  7:02 PM\nRoom 4 at the community centre is booked for the 14th, doors 7pm"),
    (DAY + HOUR, "Priya Nair  8:15 PM\nCan someone bring a kettle? the centre's one is broken"),
    (DAY, "Ola Bakare  9:40 PM\n@Tom I'll post the snack rota tomorrow, thanks for sorting the room"),
]
INBOX = [
    (2 * DAY, "From: Fernhill Lettings <lettings@fernhill.example>\nSubject: Inspection\nThe annual inspection is on "
              "Friday 9 January between 10 and 12."),
    (DAY, "From: Dalgety Water <billing@dalgety.example>\nSubject: Your bill\nYour quarterly water bill of £84.20 "
          "will be collected on the 20th."),
    (DAY - HOUR, "From: Hana Sato <hana@sato.example>\nSubject: Re: Saturday\nSee you at the climbing wall at 11, "
                 "I'll bring the spare harness."),
]


async def _search(server: Running, agent_id: str, question: str, limit: int = 10) -> list[str]:
    status, found = await server.request("GET", f"/v1/agents/{agent_id}/archival/search",
                                         params={"query": question, "limit": str(limit)})
    assert status == 200, found
    return [p["text"] for p in found["data"]]


async def _load(server: Running, lines: list[tuple[float, str]]) -> str:
    agent = await create_voice_agent(server, max_messages=40, min_messages=20, timezone="UTC")
    now = time.time()
    start = now - (now % DAY)  # today's midnight (UTC): "yesterday" is the day before it
    status, made = await server.request("POST", f"/v1/agents/{agent['id']}/archival/batch", json={
        "passages": [{"text": text, "start_at": start + 20 * HOUR - back} for back, text in lines]})
    assert status == 201, made
    return str(agent["id"])


async def test_the_medium_and_who_said_it_list_the_window(server: Running) -> None:
    agent_id = await _load(server, CHANNEL)
    yesterday = {text for back, text in CHANNEL if back < 2 * DAY}
    for question in ("What did people post yesterday?", "What was said in the channel yesterday?",
                     "What did everyone post in the group yesterday?"):
        assert set(await _search(server, agent_id, question)) == yesterday, question
    # a topic is still a topic: ranked inside the window
    assert "kettle" in (await _search(server, agent_id, "What did people post about the kettle yesterday?"))[0]


async def test_what_came_in_the_mail_is_listed(server: Running) -> None:
    agent_id = await _load(server, INBOX)
    yesterday = {text for back, text in INBOX if back < 2 * DAY}
    for question in ("What mail came in yesterday?", "What was in my inbox yesterday?"):
        assert set(await _search(server, agent_id, question)) == yesterday, question


async def test_a_described_kind_finds_what_memory_names(server: Running) -> None:
    agent_id = await _load(server, [
        (14 * DAY, "user: Ortho appt with Dr Lim is on the third at four, bring the retainer"),
        (13 * DAY, "user: GP says my blood test results are fine, next check in June"),
        (12 * DAY, "user: derm appointment with Dr Osei moved to the ninth at ten forty"),
        (11 * DAY, "user: the dentist says my check-up is due in March"),
        (10 * DAY, "user: mi prima Lucia's boda is in Guadalajara, the fourth of April"),
        (9 * DAY, "user: my tía Carmen called to say the invitations went out on Monday"),
        (8 * DAY, "user: booked the flights to Mexico City for the first of April, Aeromexico"),
        (7 * DAY, "user: the hotel in Guadalajara is the Casa Grande, three nights"),
        (6 * DAY, "user: my boss signed off my leave from the thirtieth of March"),
        (5 * DAY, "user: baba's cardio follow-up is on the twelfth at St Paul's, I'm driving him"),
        (4 * DAY, "user: lolo's lamay is at the chapel in Quezon City, nine nights of prayers"),
        (3 * DAY, "user: the doctor wants mum to have a scan of her knee next month"),
        (2 * DAY, "user: booked Marco at the barber for Saturday at ten"),
        (1 * DAY, "user: Ifeoma rang, the nephrology clinic moved dad to Thursdays"),
    ])
    # main at 15263fd ranked these 6th and 5th: the GP, the dentist and the other doctors' lines first
    for question, said in (("Who straightens my teeth?", "Ortho appt"), ("When do I see my skin doctor?", "derm"),
                           ("Which city is the wedding in?", "boda"),
                           ("Which relative rang about the invitation?", "tía"), ("Where is grandpa's wake?", "lamay")):
        assert any(said in t for t in await _search(server, agent_id, question, 3)), question
