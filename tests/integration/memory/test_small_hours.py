""""This morning" asked in the small hours (before 05:00 on the user's clock) is the hours since midnight: a person up
at 03:00 says "this morning" of 01:00, and the morning's hours from 05:00 have not come. Before, the listing opened with
"Nothing was said in the morning (05:00 to 12:00 …)" and put the lines under "other times". Real server, real SQLite
file; the agent's zone is chosen so that it is between 02:00 and 05:00 there now.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.fakes.openai_server import Text, ToolCall
from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.memory.test_recall import batch


def small_hours_zone(now: float) -> str:
    """An Etc/GMT zone whose clock reads 02:xx to 04:xx at ``now``."""
    hour = datetime.fromtimestamp(now, ZoneInfo("UTC")).hour
    for offset in range(-12, 15):
        if 2 <= (hour + offset) % 24 <= 4:
            return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"
    raise AssertionError(hour)


async def test_this_morning_in_the_small_hours_lists_them(server: Running) -> None:
    now = time.time()
    tz = small_hours_zone(now)
    agent = await create_voice_agent(server, timezone=tz)
    midnight = datetime.fromtimestamp(now, ZoneInfo(tz)).replace(hour=0, minute=0, second=0, microsecond=0)
    lines = {"user: couldn't sleep, I finished the crossword at half past midnight": midnight + timedelta(minutes=30),
             "user: the smoke alarm started chirping around half one": midnight + timedelta(hours=1, minutes=30),
             "user: I put the bins out before bed": midnight - timedelta(hours=2)}
    await batch(server, agent["id"], [{"text": t, "start_at": at.timestamp()} for t, at in lines.items()])
    status, found = await server.request("GET", f"/v1/agents/{agent['id']}/archival/search",
                                         params={"query": "What did I tell you this morning?", "limit": "5"})
    assert status == 200, found
    assert [p["text"][6:20] for p in found["data"]] == ["couldn't sleep", "the smoke alar"], found["data"]
    part = found["window"]["part"]
    assert part["name"] == "morning" and part["start_at"] == midnight.timestamp(), found["window"]

    # the voice agent's search_memory: the small hours under the morning's heading, not "Nothing was said"
    server.fake.script([ToolCall("search_memory", json.dumps({
        "pre_exec_msg": "Let me check.", "convo_keyword_queries": None, "start_minutes_ago": None,
        "end_minutes_ago": None}))], [Text("The crossword and the smoke alarm.")])
    await server.client().chat.completions.create(model=agent["id"], messages=[
        {"role": "user", "content": "What did I tell you this morning?"}])
    status, messages = await server.request("GET", f"/v1/agents/{agent['id']}/messages", params={"limit": "10"})
    listed = str([m for m in messages["data"] if m["role"] == "tool"][-1]["content"])
    assert listed.startswith("Said in the morning (before 12:00, the user's time), in order:\n"), listed
    assert "crossword" in listed and "smoke alarm" in listed and "bins" not in listed, listed
