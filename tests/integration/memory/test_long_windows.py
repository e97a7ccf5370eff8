"""A window that holds more than a listing shows ("What did I tell you last week?" over 28 lines): every day of it is
shown, each day's latest line first, in order, and search_memory tells the model it sees a part (recall/listing.py).
Before, the listing was earliest first and cut at its budget: Monday to Wednesday, never the weekend, and "since"
windows lost their newest lines. Real server, real SQLite file, the openai SDK against the scripted fake, a user at
UTC-8.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.fakes.openai_server import Text, ToolCall
from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent

TZ = "America/Los_Angeles"
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HOURS = (9, 12, 15, 20)
SEARCH = json.dumps({"pre_exec_msg": "Let me check my notes.", "convo_keyword_queries": None,
                     "start_minutes_ago": None, "end_minutes_ago": None})


def last_weeks_lines() -> dict[str, float]:
    """Four lines on each day of last week (Monday to Sunday, the user's days): 28 in all."""
    today = datetime.now(ZoneInfo(TZ)).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday() + 7)
    return {f"On {name} at {hour}:00 I noted item {d * 10 + h} for the list.":
            (monday + timedelta(days=d, hours=hour)).timestamp()
            for d, name in enumerate(DAYS) for h, hour in enumerate(HOURS)}


async def test_a_long_window_shows_every_day_and_says_it_is_a_part(server: Running) -> None:
    agent = await create_voice_agent(server, max_messages=40, min_messages=20, timezone=TZ)
    lines = last_weeks_lines()
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/messages/import", json={
        "archive": False, "messages": [{"role": "user", "content": text, "said_at": t} for text, t in lines.items()]})
    assert status == 202, body

    client = server.client()
    server.fake.script([ToolCall("search_memory", SEARCH)], [Text("Lots of list items.")])
    await client.chat.completions.create(model=agent["id"], messages=[
        {"role": "user", "content": "What did I tell you last week?"}])
    status, messages = await server.request("GET", f"/v1/agents/{agent['id']}/messages", params={"limit": "10"})
    listed = str([m for m in messages["data"] if m["role"] == "tool"][-1]["content"]).splitlines()
    assert listed[0].startswith("More was said in that time than fits here: these are 12 of the 28 lines"), listed
    shown = listed[1:]
    assert len(shown) == 12, shown
    for name in DAYS:  # every day, and each day's last line
        assert f"On {name} at 20:00" in "\n".join(shown), (name, shown)
    # the newest days get the budget's remainder: first and last line of Wednesday to Sunday, Monday and Tuesday's last
    assert sum(f"On {name} at 9:00" in line for name in DAYS for line in shown) == 5, shown
    assert not any("On Monday at 9:00" in line or "On Tuesday at 9:00" in line for line in shown), shown
    said = [lines[line.split(": ", 1)[1]] for line in shown]
    assert said == sorted(said)  # in the order said

    # the REST search: the same choice within its limit, oldest first
    status, made = await server.request("POST", f"/v1/agents/{agent['id']}/archival/batch", json={
        "passages": [{"text": text, "start_at": t} for text, t in lines.items()]})
    assert status == 201, made
    status, found = await server.request("GET", f"/v1/agents/{agent['id']}/archival/search",
                                         params={"query": "What did I tell you last week?", "limit": "7"})
    assert status == 200, found
    assert [p["text"].split(" I noted")[0] for p in found["data"]] == [f"On {name} at 20:00" for name in DAYS]
    # and says what it read: the window from the words, listed, 7 of its 28 passages shown
    window = found["window"]
    assert (window["from"], window["listed"], window["total"], window["part"]) == ("words", True, 28, None), window
    assert window["start_at"] <= min(lines.values()) and window["end_at"] >= max(lines.values())
    # a topic in that window is ranked, not listed; a question with no time has no window
    status, found = await server.request("GET", f"/v1/agents/{agent['id']}/archival/search",
                                         params={"query": "What did I say about item 42 last week?", "limit": "3"})
    assert found["window"]["listed"] is False and found["window"]["total"] is None, found["window"]
    status, found = await server.request("GET", f"/v1/agents/{agent['id']}/archival/search",
                                         params={"query": "item 42", "limit": "3"})
    assert found["window"] is None
    status, found = await server.request("GET", f"/v1/agents/{agent['id']}/archival/search", params={
        "query": "anything", "limit": "3", "start_at": str(min(lines.values())), "end_at": str(max(lines.values()))})
    assert (found["window"]["from"], found["window"]["listed"], found["window"]["total"]) == ("given", True, 28)


async def test_a_window_that_fits_is_listed_whole_without_a_note(server: Running) -> None:
    agent = await create_voice_agent(server, max_messages=40, min_messages=20, timezone=TZ)
    lines = dict(list(last_weeks_lines().items())[-8:])  # Saturday and Sunday
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/messages/import", json={
        "archive": False, "messages": [{"role": "user", "content": text, "said_at": t} for text, t in lines.items()]})
    assert status == 202, body
    client = server.client()
    server.fake.script([ToolCall("search_memory", SEARCH)], [Text("Eight items.")])
    await client.chat.completions.create(model=agent["id"], messages=[
        {"role": "user", "content": "What did I tell you last week?"}])
    status, messages = await server.request("GET", f"/v1/agents/{agent['id']}/messages", params={"limit": "10"})
    listed = str([m for m in messages["data"] if m["role"] == "tool"][-1]["content"]).splitlines()
    assert len(listed) == 8 and not listed[0].startswith("More was said"), listed
