"""A question about a time whose only other words are verbs of noting ("What did I jot down four days ago?") lists
that day's lines; it was ranked by "jot" and "down", which the day's only note does not say, and came back empty,
with or without the window given (found on test4 of bench/recall_holdout.json). A real topic still ranks.
Real server, real SQLite file, the REST search and search_memory through the openai SDK against the scripted fake.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from tests.fakes.openai_server import Text, ToolCall
from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent

DAY = 86400.0
NOTES = [(12, "Boiler: engineer booked for the 14th, annual service, £95."),
         (4, "Allotment: plot 17 handed over; water trough by the east gate."),
         (4, "Dentist: crown fitted on the upper left molar, next check-up in June."),
         (1, "Choir: rehearsal moved to Wednesdays at the church hall.")]


async def test_verbs_of_noting_with_a_time_list_that_day(server: Running) -> None:
    agent = await create_voice_agent(server, max_messages=40, min_messages=20)
    now = time.time()
    status, made = await server.request("POST", f"/v1/agents/{agent['id']}/archival/batch", json={
        "passages": [{"text": text, "start_at": now - days * DAY} for days, text in NOTES]})
    assert status == 201, made
    day4 = {"Allotment: plot 17 handed over; water trough by the east gate.",
            "Dentist: crown fitted on the upper left molar, next check-up in June."}

    for question in ("What did I jot down four days ago?", "What did I note four days ago?",
                     "Anything I wrote down four days ago?", "What did I bring up four days ago?"):
        status, found = await server.request("GET", f"/v1/agents/{agent['id']}/archival/search",
                                             params={"query": question, "limit": "10"})
        assert status == 200 and {p["text"] for p in found["data"]} == day4, (question, found)

    # a date without a year is that day too (the agent's zone: UTC here)
    day = datetime.fromtimestamp(now - 4 * DAY, UTC)
    for question in (f"What did I note on {day.strftime('%B')} {day.day}?", f"What did I jot down on the {day.day}th?"):
        status, found = await server.request("GET", f"/v1/agents/{agent['id']}/archival/search",
                                             params={"query": question, "limit": "10"})
        assert status == 200 and {p["text"] for p in found["data"]} == day4, (question, found)

    # a topic is still a topic: ranked inside the window, the other note of the day is not listed
    status, found = await server.request("GET", f"/v1/agents/{agent['id']}/archival/search",
                                         params={"query": "What did I note about my teeth four days ago?"})
    assert status == 200 and found["data"][0]["text"].startswith("Dentist:"), found
    assert all(not p["text"].startswith("Allotment") for p in found["data"][:1])

    # the voice agent's search_memory lists them too, dated
    server.fake.script([ToolCall("search_memory", json.dumps({
        "pre_exec_msg": "Let me look.", "convo_keyword_queries": None, "start_minutes_ago": None,
        "end_minutes_ago": None}))], [Text("You noted the allotment and the dentist.")])
    await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": "What did I jot down four days ago?"}])
    status, messages = await server.request("GET", f"/v1/agents/{agent['id']}/messages", params={"limit": "10"})
    listed = str([m for m in messages["data"] if m["role"] == "tool"][-1]["content"])
    assert "4 days ago" in listed and "Allotment: plot 17" in listed and "Dentist: crown" in listed, listed
    assert "Boiler" not in listed and "Choir" not in listed and "Nothing in memory confidently" not in listed
