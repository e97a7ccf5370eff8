"""An agent's time zone (``timezone``, IANA): "yesterday" is the user's yesterday, search_memory dates lines by the
user's calendar and the model is told the user's time, for a user at UTC-8 (Los Angeles in December) and one at
UTC+13 (Tonga), with lines said just before and just after their midnight. Before, every day was a UTC day: for
these users, lines said ten minutes apart around their midnight fell in one UTC day, and "yesterday" cut their day
in two. Real server, real SQLite file, the openai SDK against the scripted fake.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.fakes.openai_server import Text, ToolCall
from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import (
    create_voice_agent,
    finish_call,
    manager,
    rethink_call,
    sleeptime_requests,
    store_call,
)

SEARCH = json.dumps({"pre_exec_msg": "Let me check my notes.", "convo_keyword_queries": None,
                     "start_minutes_ago": None, "end_minutes_ago": None})


async def test_the_time_zone_is_set_checked_and_changed_over_rest(server: Running) -> None:
    status, body = await server.request("POST", "/v1/agents", json={"name": "a", "timezone": "Mars/Olympus"})
    assert status == 400 and body["error"]["code"] == "invalid_request" and body["error"]["param"] == "timezone"
    assert "IANA" in body["error"]["message"]
    status, listed = await server.request("GET", "/v1/agents")
    assert listed["data"] == []  # nothing was created

    default = await server.create_agent(name="plain")
    assert default["timezone"] == "UTC"
    agent = await server.create_agent(name="la", timezone="america/los_angeles")
    assert agent["timezone"] == "America/Los_Angeles"  # spelt as the zone database does
    status, got = await server.request("GET", f"/v1/agents/{agent['id']}")
    assert status == 200 and got["timezone"] == "America/Los_Angeles"

    status, patched = await server.request("PATCH", f"/v1/agents/{agent['id']}", json={"timezone": "Pacific/Tongatapu"})
    assert status == 200 and patched["timezone"] == "Pacific/Tongatapu"
    for bad in ("PST", "+13:00", None, 13, "../../etc/passwd"):
        status, body = await server.request("PATCH", f"/v1/agents/{agent['id']}", json={"timezone": bad})
        assert status == 400 and body["error"]["param"] == "timezone", (bad, body)
    status, got = await server.request("GET", f"/v1/agents/{agent['id']}")
    assert got["timezone"] == "Pacific/Tongatapu"  # a refused change changed nothing

    status, person = await server.request("POST", f"/v1/agents/{agent['id']}/identities/caller-1")
    assert status == 201 and person["timezone"] == "Pacific/Tongatapu"  # a caller's own agent keeps the zone


def around_midnight(tz: str) -> dict[str, float]:
    """Lines said ten minutes before and after the user's last two midnights (today's line: once it has been said)."""
    now = time.time()
    today = datetime.fromtimestamp(now, ZoneInfo(tz)).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)  # local wall-clock arithmetic: midnight to midnight
    return {
        "The plumber comes to fix the boiler on Friday.": (yesterday - timedelta(minutes=10)).timestamp(),
        "I lost my blue umbrella on the bus.": (yesterday + timedelta(minutes=10)).timestamp(),
        "The dentist says I need a crown.": (today - timedelta(minutes=10)).timestamp(),
        "I booked the airport car for Monday.": max(today.timestamp(), min((today + timedelta(minutes=10)).timestamp(),
                                                                           now - 1)),
    }


@pytest.mark.parametrize("tz", ["America/Los_Angeles", "Pacific/Tongatapu"])
async def test_yesterday_and_its_dates_are_the_users_around_midnight(server: Running, tz: str) -> None:
    agent = await create_voice_agent(server, max_messages=40, min_messages=20, timezone=tz)
    lines = around_midnight(tz)
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/messages/import", json={
        "archive": False, "messages": [{"role": "user", "content": text, "said_at": t} for text, t in lines.items()]})
    assert status == 202, body

    client = server.client()
    server.fake.script([ToolCall("search_memory", SEARCH)], [Text("You lost your umbrella.")])
    before = datetime.now(ZoneInfo(tz))
    await client.chat.completions.create(model=agent["id"],
                                         messages=[{"role": "user", "content": "What did I tell you yesterday?"}])
    after = datetime.now(ZoneInfo(tz))
    status, messages = await server.request("GET", f"/v1/agents/{agent['id']}/messages", params={"limit": "10"})
    listed = str([m for m in messages["data"] if m["role"] == "tool"][-1]["content"])
    assert "Yesterday at 00:10, the user said: I lost my blue umbrella on the bus." in listed, listed
    assert "Yesterday at 23:50, the user said: The dentist says I need a crown." in listed, listed
    assert "plumber" not in listed and "airport" not in listed, listed

    # the model is told the user's time, with the zone
    sent = server.fake.requests[-2]["messages"][-1]["content"]
    offset = before.strftime("%z")
    stamps = {f"Current time: {t.strftime('%A %Y-%m-%d')}" for t in (before, after)}
    assert any(s in sent for s in stamps) and f"{tz} (UTC{offset[:3]}:{offset[3:]})" in sent, sent

    # the REST search takes the window in words in the agent's zone too
    status, made = await server.request("POST", f"/v1/agents/{agent['id']}/archival/batch", json={
        "passages": [{"text": f"user: {text}", "start_at": t} for text, t in lines.items()]})
    assert status == 201, made
    status, found = await server.request("GET", f"/v1/agents/{agent['id']}/archival/search",
                                         params={"query": "What did I tell you yesterday?", "limit": "10"})
    assert status == 200 and sorted(p["text"] for p in found["data"]) == [
        "user: I lost my blue umbrella on the bus.", "user: The dentist says I need a crown."], found


async def test_the_sleeptime_model_is_told_the_users_days(server: Running) -> None:
    tz = "Pacific/Tongatapu"
    agent = await create_voice_agent(server, timezone=tz)
    lines = around_midnight(tz)
    said = list(lines.items())[1:3]  # 10 minutes after yesterday's midnight and 10 minutes before today's
    server.fake.script([store_call((0, 1, "The user lost a blue umbrella on the bus and needs a dental crown."))],
                       [rethink_call("Lost a blue umbrella. Needs a crown.")], [finish_call()])
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/messages/import", json={
        "messages": [{"role": "user", "content": text, "said_at": t} for text, t in said]})
    assert status == 202, body
    await manager(server).wait_idle(agent["id"])
    asked = sleeptime_requests(server.fake)[0]["messages"][1]["content"]
    yesterday = datetime.fromtimestamp(said[0][1], ZoneInfo(tz))
    heading = f"(said on {yesterday.strftime('%A %-d %B %Y')})\n0. user: I lost my blue umbrella on the bus."
    assert heading in asked and "\n1. user: The dentist says I need a crown." in asked, asked
    assert asked.count("(said on ") == 1  # both in the user's yesterday (two UTC days)
    assert f"for the user ({tz})." in asked and "Now it is " in asked
