"""Nothing handed to the sleeptime agent is lost, whatever its model does (found by QA from outside, session 5).

The default embedded SmolLM2-135M, whose grammar forces every answer to be a tool call, answered ``store_memories``
with ``{"chunks": []}`` (the grammar's shortest path): the job was "done", nothing was archived and later hand-offs
never took the lines again. Then it answered ``rethink_user_memory`` with invented text or "" to the end of its step
budget, never finishing. Now:
- a run that stores no chunk (an empty list, or no valid call within its steps) archives the user's lines worth
  keeping word for word, marked ``verbatim``, with the assistant's question a short answer answers;
- a summary or a block rewrite that says what no line says is refused, with the invented words named;
- an empty rewrite keeps the block, and two refused rewrites end the run with the block as it was.
Real server, real SQLite file, the sleeptime model scripted on the fake OpenAI server (a test of the embedded model
itself is in tests/e2e/test_local_sleeptime.py).
"""

from __future__ import annotations

import json
import time

from tests.fakes.openai_server import ToolCall
from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import (
    create_voice_agent,
    finish_call,
    human_block,
    manager,
    rethink_call,
    sleeptime_requests,
    store_call,
)

HUMAN = "Name: Priya. Lives in Leeds. Works as a nurse. Allergic to penicillin. Cat: Biscuit."
LINES = [{"role": "user", "content": "We finally moved to Bristol last weekend."},
         {"role": "assistant", "content": "Congratulations on the move!"},
         {"role": "user", "content": "Thanks!"},
         {"role": "assistant", "content": "What's your daughter's new school called?"},
         {"role": "user", "content": "Redland Green."},
         {"role": "user", "content": "Also my new dentist is Dr Okafor on Gloucester Road."}]
T0 = time.time() - 2 * 86400


async def import_lines(server: Running, agent_id: str) -> None:
    status, body = await server.request("POST", f"/v1/agents/{agent_id}/messages/import", json={
        "messages": [{**m, "said_at": T0 + 60 * i} for i, m in enumerate(LINES)]})
    assert status == 202, body


async def archived(server: Running, agent_id: str) -> list[dict[str, object]]:
    status, listed = await server.request("GET", f"/v1/agents/{agent_id}/archival")
    assert status == 200, listed
    return list(listed["data"])


async def test_a_run_that_stores_no_chunk_archives_the_users_lines_word_for_word(server: Running) -> None:
    agent = await create_voice_agent(server, human=HUMAN)
    server.fake.script([ToolCall("store_memories", json.dumps({"chunks": []}))], [rethink_call("")],
                       [finish_call()])
    await import_lines(server, agent["id"])
    jobs = await manager(server).wait_idle(agent["id"])
    assert [(j.kind, j.status) for j in jobs] == [("import", "done")]
    passages = await archived(server, agent["id"])
    assert [(p["text"], p["synopsis"], p["verbatim"]) for p in passages] == [
        ("user: We finally moved to Bristol last weekend.", "", True),
        ("assistant: What's your daughter's new school called?\nuser: Redland Green.", "", True),
        ("user: Also my new dentist is Dr Okafor on Gloucester Road.", "", True),
    ]  # not "Thanks!", nor the assistant's own words
    assert passages[1]["start_at"] == T0 + 180 and passages[1]["end_at"] == T0 + 240  # when they were said
    told = sleeptime_requests(server.fake)[1]["messages"][-1]["content"]
    assert "archived word for word (3 memories)" in told
    assert await human_block(server, agent["id"]) == HUMAN  # the empty rewrite kept the block
    assert len(sleeptime_requests(server.fake)) == 3  # and the run finished: store, rethink, finish

    status, found = await server.request("GET", f"/v1/agents/{agent['id']}/archival/search",
                                         params={"query": "Who is my dentist?"})
    assert status == 200 and "Dr Okafor" in found["data"][0]["text"], found


async def test_a_model_that_never_stores_validly_still_loses_nothing(server: Running) -> None:
    agent = await create_voice_agent(server, human=HUMAN)
    bad = store_call((0, 40, "The user moved to Bristol."))  # lines that are not there, every time
    server.fake.script(*([bad] for _ in range(8)))
    await import_lines(server, agent["id"])
    jobs = await manager(server).wait_idle(agent["id"])
    assert [(j.kind, j.status) for j in jobs] == [("import", "done")]  # not failed, not retried
    passages = await archived(server, agent["id"])
    assert len(passages) == 3 and all(p["verbatim"] for p in passages)
    assert len(sleeptime_requests(server.fake)) == 8


async def test_an_invented_summary_is_refused_and_a_true_one_kept(server: Running) -> None:
    agent = await create_voice_agent(server, human=HUMAN)
    server.fake.script(
        [store_call((0, 1, "Mike had a party the day before the wedding and wants to visit New York someday."))],
        [store_call((0, 1, "The user moved to Bristol last weekend."))],
        [rethink_call(HUMAN.replace("Leeds", "Bristol"))], [finish_call()])
    await import_lines(server, agent["id"])
    await manager(server).wait_idle(agent["id"])
    refused = sleeptime_requests(server.fake)[1]["messages"][-1]["content"]
    assert refused.startswith("Error: chunk 0: its context says what no line says (mike, party, wedding"), refused
    passages = await archived(server, agent["id"])
    assert [(p["synopsis"], p["verbatim"]) for p in passages] == [("The user moved to Bristol last weekend.", False)]
    assert await human_block(server, agent["id"]) == HUMAN.replace("Leeds", "Bristol")


async def test_invented_block_rewrites_are_refused_and_the_block_kept(server: Running) -> None:
    agent = await create_voice_agent(server, human="Nothing is known about the user yet.")
    invented = "Your identity is still a cat, not a dog. You are trying to change your reality to fit it."
    server.fake.script([store_call((0, 1, "The user moved to Bristol last weekend."))], [rethink_call(invented)],
                       [rethink_call(invented)], [rethink_call("Lives in Bristol.")], [finish_call()])
    await import_lines(server, agent["id"])
    jobs = await manager(server).wait_idle(agent["id"])
    assert [(j.kind, j.status) for j in jobs] == [("import", "done")]
    requests = sleeptime_requests(server.fake)
    assert requests[2]["messages"][-1]["content"].startswith(
        "Error: new_memory says what neither the block nor the transcript says (still, cat, dog, trying")
    assert len(requests) == 3  # two refusals end the run: the block is not the model's to invent
    assert await human_block(server, agent["id"]) == "Nothing is known about the user yet."
