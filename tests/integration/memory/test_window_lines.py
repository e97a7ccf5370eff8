"""A question about a time lists the lines of that time that are not archived yet (found by QA, session 4).

The model's context shows no dates. Lines said yesterday (a transcript replayed with ``voice_letta.said_at``, or a
conversation from yesterday still inside the buffer) were in view but undated, and ``search_memory`` for "What did
I tell you yesterday?" listed only archived passages: none, so the model was told "No memories matched. Tell the
user you don't remember that". Now the window lists them too, with the evicted or imported lines not archived yet;
not the question itself, not tool rows, and the REST search (archived passages only) is unchanged.
Real server, real SQLite, the openai SDK against the scripted fake.
"""

from __future__ import annotations

import json
import time

from tests.fakes.openai_server import Text, ToolCall
from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent

DAY = 86400.0
SEARCH = json.dumps({"pre_exec_msg": "Let me check my notes.", "convo_keyword_queries": None,
                     "start_minutes_ago": None, "end_minutes_ago": None})


async def tool_text(server: Running, agent_id: str) -> str:
    status, body = await server.request("GET", f"/v1/agents/{agent_id}/messages", params={"limit": "10"})
    assert status == 200, body
    return str([m for m in body["data"] if m["role"] == "tool"][-1]["content"])


async def test_a_time_question_lists_the_lines_of_that_time_not_archived_yet(server: Running) -> None:
    agent = await create_voice_agent(server, max_messages=40, min_messages=20)
    now = time.time()
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/messages/import", json={
        "archive": False, "messages": [
            {"role": "user", "content": "My cousin Ravi is visiting in March.", "said_at": now - 3 * DAY}]})
    assert status == 202, body
    client = server.client()
    server.fake.script([Text("Oh no, sorry to hear that.")], [Text("Good luck with it.")])
    for words in ("I lost my blue umbrella on the bus.", "The dentist says I need a crown."):
        await client.chat.completions.create(model=agent["id"], messages=[{"role": "user", "content": words}],
                                             extra_body={"voice_letta": {"said_at": now - DAY}})

    server.fake.script([ToolCall("search_memory", SEARCH)], [Text("You lost your umbrella.")])
    await client.chat.completions.create(model=agent["id"],
                                         messages=[{"role": "user", "content": "What did I tell you yesterday?"}])
    listed = await tool_text(server, agent["id"])
    assert "No memories matched" not in listed and "Nothing in memory confidently" not in listed, listed
    assert "the user said: I lost my blue umbrella on the bus." in listed
    assert "the user said: The dentist says I need a crown." in listed
    assert "sorry to hear" not in listed  # the replies were said now (said_at dates the user's words only)
    assert listed.index("umbrella") < listed.index("crown")  # in the order they were said
    assert "Ravi" not in listed and "What did I tell you" not in listed
    assert "Let me check my notes" not in listed  # tool rows are not lines

    server.fake.script([ToolCall("search_memory", SEARCH)], [Text("Your cousin is visiting.")])
    await client.chat.completions.create(model=agent["id"],
                                         messages=[{"role": "user", "content": "What did I say three days ago?"}])
    listed = await tool_text(server, agent["id"])
    assert "the user said: My cousin Ravi is visiting in March." in listed and "umbrella" not in listed, listed

    # the REST search lists archived passages only: nothing is archived here
    status, found = await server.request("GET", f"/v1/agents/{agent['id']}/archival/search",
                                         params={"query": "What did I tell you yesterday?"})
    assert status == 200 and found["data"] == []
