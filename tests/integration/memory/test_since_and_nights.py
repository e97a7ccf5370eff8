"""Two window rules, found from outside (QA, session 7). A question with "since" and no topic lists the window's lines
("What have I told you since Monday?" found 4 of 6: "since" was taken for its topic, so the lines were ranked with a
similarity floor; "Anything new since yesterday?" found nothing). And the small hours belong to the night before, not
to the morning: "last night" runs 17:00 to 05:00, so "on friday night" does too, and "on friday morning" starts at
05:00 (a line at 01:00 was listed first for "this morning" and for "last night"). Real server, real SQLite file, the
openai SDK against the scripted fake, a user at UTC-8.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.fakes.openai_server import Text, ToolCall
from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from voice_letta.agent.recall.timewords import WEEKDAYS

TZ = "America/Los_Angeles"
SEARCH = json.dumps({"pre_exec_msg": "Let me check my notes.", "convo_keyword_queries": None,
                     "start_minutes_ago": None, "end_minutes_ago": None})
ONE_A_DAY = ("The vet moved Biscuit's jab to the ninth.", "Aunt Joan is coming for lunch on Sunday.",
             "I signed up for the pottery course.", "The boiler engineer replaced the pump.",
             "My passport renewal finally arrived.", "Lena got the part in the school play.")


def _today() -> datetime:
    return datetime.now(ZoneInfo(TZ)).replace(hour=0, minute=0, second=0, microsecond=0)


def _day(days_ago: int, hour: int, minute: int = 0) -> float:
    """Wall-clock hours of a local day (a daylight-saving day too)."""
    day = (_today().replace(tzinfo=None) - timedelta(days=days_ago)).replace(tzinfo=ZoneInfo(TZ))
    return (day + timedelta(hours=hour, minutes=minute)).timestamp()


async def _rest(server: Running, agent_id: str, question: str, limit: int = 10) -> list[str]:
    status, found = await server.request("GET", f"/v1/agents/{agent_id}/archival/search",
                                         params={"query": question, "limit": str(limit)})
    assert status == 200, found
    return [str(p["text"]) for p in found["data"]]


async def _tool_text(server: Running, agent_id: str, question: str) -> str:
    server.fake.script([ToolCall("search_memory", SEARCH)], [Text("Here is what you told me.")])
    await server.client().chat.completions.create(model=agent_id, messages=[{"role": "user", "content": question}])
    status, messages = await server.request("GET", f"/v1/agents/{agent_id}/messages", params={"limit": "10"})
    assert status == 200, messages
    return str([m for m in messages["data"] if m["role"] == "tool"][-1]["content"])


async def test_a_since_question_lists_the_window_to_now(server: Running) -> None:
    agent = await create_voice_agent(server, max_messages=40, min_messages=20, timezone=TZ)
    # one line a day at 15:00 local, one to six days ago, and two more twelve and thirteen days ago
    said = {text: _day(i, 15) for i, text in enumerate(ONE_A_DAY, 1)}
    said |= {"The landlord fixed the gutter.": _day(12, 15), "I lent Sam my drill.": _day(13, 15)}
    status, made = await server.request("POST", f"/v1/agents/{agent['id']}/archival/batch", json={
        "passages": [{"text": f"user: {text}", "start_at": t} for text, t in said.items()]})
    assert status == 201, made
    four_ago = WEEKDAYS[(_today() - timedelta(days=4)).weekday()]
    expect = [f"user: {t}" for t in reversed(ONE_A_DAY[:4])]  # four days ago to yesterday, in order
    for question in (f"What have I told you since {four_ago}?", f"What did I tell you since {four_ago}",
                     f"Did I tell you anything since {four_ago}?"):
        assert await _rest(server, agent["id"], question) == expect, question
    assert await _rest(server, agent["id"], "Anything new since yesterday?") == [f"user: {ONE_A_DAY[0]}"]
    # a topic is still ranked by it, inside the window
    assert (await _rest(server, agent["id"], f"What did I say about the vet since {four_ago}?"))[0] == expect[3]

    # search_memory lists them too, with nothing from before the window
    listed = await _tool_text(server, agent["id"], f"What have I told you since {four_ago}?")
    assert all(t in listed for t in ONE_A_DAY[:4]), listed
    assert not any(t in listed for t in (*ONE_A_DAY[4:], "gutter", "drill")), listed


async def test_the_small_hours_belong_to_the_night_not_the_morning(server: Running) -> None:
    agent = await create_voice_agent(server, max_messages=40, min_messages=20, timezone=TZ)
    lines = {
        "Couldn't sleep, watched a documentary about octopuses.": _day(2, 1),  # the night before, not the morning
        "This morning I paid the council tax.": _day(2, 9),
        "We had pizza with the neighbours.": _day(2, 19),
        "Finished the crossword before bed.": _day(2, 23),
        "Still awake, the storm knocked the fence over.": _day(1, 1, 30),  # that night's small hours, the next day
        "Called the fence company first thing.": _day(1, 10),
    }
    status, made = await server.request("POST", f"/v1/agents/{agent['id']}/archival/batch", json={
        "passages": [{"text": f"user: {text}", "start_at": t} for text, t in lines.items()]})
    assert status == 201, made
    day = WEEKDAYS[(_today() - timedelta(days=2)).weekday()]
    texts = [f"user: {t}" for t in lines]
    assert await _rest(server, agent["id"], f"What did I say on {day} morning?") == [texts[1], texts[0], *texts[2:4]]
    assert await _rest(server, agent["id"], f"What did I tell you on {day} night?") == [*texts[2:5], *texts[:2]]

    # search_memory names the hours: the morning from 05:00; the night to 05:00 the next day
    status, _ = await server.request("POST", f"/v1/agents/{agent['id']}/messages/import", json={
        "archive": False, "messages": [{"role": "user", "content": text, "said_at": t} for text, t in lines.items()]})
    assert status == 202
    listed = await _tool_text(server, agent["id"], f"What did I say on {day} morning?")
    head = "Said in the morning (05:00 to 12:00, the user's time), in order:\n"
    assert listed.startswith(head), listed
    morning, rest = listed[len(head):].split("\nSaid at other times that day (not in the morning):\n")
    assert "council tax" in morning and "octopuses" not in morning and "octopuses" in rest, listed
    listed = await _tool_text(server, agent["id"], f"What did I tell you on {day} night?")
    head = "Said in the night (17:00 to 05:00 the next day, the user's time), in order:\n"
    assert listed.startswith(head), listed
    night, rest = listed[len(head):].split("\nSaid at other times that day (not in the night):\n")
    assert all(w in night for w in ("pizza", "crossword", "storm")) and "octopuses" in rest, listed
    assert "fence company" not in listed, listed
