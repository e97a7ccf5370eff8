"""A passage stored with a time no calendar holds (start_at 1e15, year 31,690,708: accepted by the REST route before
d24ab8a, so a database may hold one) failed every turn whose search_memory showed it ("year 31690708 is out of range"
dating it; the user heard "Sorry, I'm having trouble"). Found from outside by QA (session 8). Dating a memory now never
fails: such a time is shown as the nearest date a calendar holds, said to be ahead of now. Real server, real SQLite
file, the openai SDK against the scripted fake.
"""

from __future__ import annotations

import json
import time

from tests.fakes.openai_server import Text, ToolCall
from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from voice_letta import ids
from voice_letta.agent.models import Passage

SEARCH = json.dumps({"pre_exec_msg": "Let me check.", "convo_keyword_queries": ["door code"],
                     "start_minutes_ago": None, "end_minutes_ago": None})


async def test_a_passage_dated_past_any_calendar_does_not_fail_the_turn(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    await server.store.insert_passages([
        Passage(id=ids.new_id("passage"), agent_id=agent["id"], text="user: the door code is 4471", start_at=1e15,
                end_at=1e15),
        Passage(id=ids.new_id("passage"), agent_id=agent["id"], text="user: the gate code is 1990", start_at=-1e15,
                end_at=-1e15),
        Passage(id=ids.new_id("passage"), agent_id=agent["id"], text="user: the door is painted green",
                start_at=now - 3600, end_at=now - 3600),
    ])
    client = server.client()
    server.fake.script([ToolCall("search_memory", SEARCH)], [Text("It is 4471.")])
    reply = await client.chat.completions.create(model=agent["id"], messages=[
        {"role": "user", "content": "What's the door code?"}])
    assert (reply.choices[0].message.content or "").endswith("It is 4471."), reply
    status, messages = await server.request("GET", f"/v1/agents/{agent['id']}/messages", params={"limit": "10"})
    shown = str([m for m in messages["data"] if m["role"] == "tool"][-1]["content"])
    assert "Dated ahead of now (December 30, 9999): user: the door code is 4471" in shown, shown

    # a window listing dates its lines too (recall/listing.py reads the local day of each)
    status, found = await server.request("GET", f"/v1/agents/{agent['id']}/archival/search", params={
        "query": "what did I say", "start_at": "-1e16", "end_at": str(now), "limit": "2"})
    assert status == 200 and len(found["data"]) == 2, found
