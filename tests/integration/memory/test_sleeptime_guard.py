"""The sleeptime agent cannot wipe the memory block (found by QA from outside, session 4).

With the embedded SmolLM2-135M as its sleeptime model, an import of four lines archived nothing and rewrote the
human block "Name: Priya. Lives in Leeds with her partner Tom and son Arjun (8). Works as a pharmacist. Allergic to
penicillin. Cat: Biscuit." as "Remember me". A rewrite that keeps under a quarter of the key words of a block that
had at least 8 is now refused (the model is shown the current text and asked again); REST edits are not limited.
Real server, real SQLite file, the sleeptime model scripted on the fake OpenAI server.
"""

from __future__ import annotations

import time

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

HUMAN = ("Name: Priya. Lives in Leeds with her partner Tom and son Arjun (8). Works as a pharmacist. "
         "Allergic to penicillin. Cat: Biscuit.")
LINES = [{"role": "user", "content": "We finally moved to Bristol last weekend."},
         {"role": "assistant", "content": "Congratulations on the move!"}]


async def import_lines(server: Running, agent_id: str) -> None:
    t0 = time.time() - 2 * 86400
    status, body = await server.request("POST", f"/v1/agents/{agent_id}/messages/import", json={
        "messages": [{**m, "said_at": t0 + 60 * i} for i, m in enumerate(LINES)]})
    assert status == 202, body


async def test_a_rewrite_that_drops_what_the_block_knew_is_refused_and_the_model_asked_again(server: Running) -> None:
    agent = await create_voice_agent(server, human=HUMAN)
    moved = HUMAN.replace("Lives in Leeds", "Lives in Bristol")
    # the wiping rewrite says only what the lines say: else it is refused as unsaid words before its share is judged
    server.fake.script([store_call((0, 1, "The user moved to Bristol."))], [rethink_call("Moved to Bristol.")],
                       [rethink_call(moved)], [finish_call()])
    await import_lines(server, agent["id"])
    jobs = await manager(server).wait_idle(agent["id"])
    assert [(j.kind, j.status) for j in jobs] == [("import", "done")]
    assert await human_block(server, agent["id"]) == moved
    refused = sleeptime_requests(server.fake)[2]["messages"][-1]
    assert refused["role"] == "tool" and refused["content"].startswith("Error: new_memory keeps only 0%")
    assert HUMAN in refused["content"]  # the model is shown what it must keep


async def test_a_model_that_keeps_wiping_leaves_the_block_as_it_was(server: Running) -> None:
    agent = await create_voice_agent(server, human=HUMAN)
    server.fake.script([store_call((0, 1, "The user moved to Bristol."))], [rethink_call("Remember me")],
                       [rethink_call("")], [rethink_call("Priya.")], [finish_call()])
    await import_lines(server, agent["id"])
    jobs = await manager(server).wait_idle(agent["id"])
    assert [(j.kind, j.status) for j in jobs] == [("import", "done")]  # the lines are archived all the same
    assert await human_block(server, agent["id"]) == HUMAN
    status, listed = await server.request("GET", f"/v1/agents/{agent['id']}/archival")
    assert [p["synopsis"] for p in listed["data"]] == ["The user moved to Bristol."]

    # the user (REST) may still clear or shorten the block
    status, block = await server.request("PATCH", f"/v1/agents/{agent['id']}/blocks/human", json={"value": "Priya."})
    assert status == 200 and block["value"] == "Priya."
