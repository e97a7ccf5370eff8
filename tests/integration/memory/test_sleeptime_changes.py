"""A change told inside a long exchange is archived on its own too, dated when it was said (sleeptime_checks.
change_lines), so search sees it as the newer version of what it changes.

A long phone call: "landlord is mrs okafor, rent 2150" early, "mrs o says it's 2,225 a month from now on" forty
minutes later. The sleeptime model archived the call as one chunk, dated from its first line: one passage saying both
rents, and no later passage for the index to order first (test5's landlord and street-sweeping misses were shorter
versions of this told in separate passages). Real server, real SQLite file, the sleeptime model scripted on the fake.
"""

from __future__ import annotations

import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import (
    create_voice_agent,
    finish_call,
    manager,
    rethink_call,
    store_call,
)
from tests.integration.memory.test_recall import search
from tests.integration.memory.test_sleeptime_verbatim import archived

T0 = time.time() - 3 * 86400
CALL = [("user", "so the landlord is mrs okafor and the rent is 2150 a month", 0),
        ("assistant", "Got it, 2150 a month to Mrs Okafor.", 1),
        ("user", "and street cleaning on my block is tuesdays 8 to 10am", 2),
        ("assistant", "Tuesdays 8 to 10, noted.", 3),
        ("user", "my daughter starts swimming lessons at the leisure centre", 10),
        ("assistant", "Lovely.", 11),
        ("user", "oh and mrs o says it's 2,225 a month from now on", 40),
        ("assistant", "Okay, 2,225 from now on.", 41),
        ("user", "the sweepers on my block switched to weds 8-10", 42),
        ("assistant", "Wednesdays then.", 43)]
SYNOPSIS = "The user's landlord is Mrs Okafor; rent, street cleaning and swimming lessons."


async def test_a_change_inside_a_chunk_is_archived_on_its_own_and_ranks_as_the_newer_version(server: Running) -> None:
    agent = await create_voice_agent(server)
    server.fake.script([store_call((0, len(CALL) - 1, SYNOPSIS))], [rethink_call("Landlord: Mrs Okafor.")],
                       [finish_call()])
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/messages/import", json={
        "messages": [{"role": r, "content": c, "said_at": T0 + 60 * m} for r, c, m in CALL]})
    assert status == 202, body
    jobs = await manager(server).wait_idle(agent["id"])
    assert [(j.kind, j.status) for j in jobs] == [("import", "done")]

    passages = sorted(await archived(server, agent["id"]), key=lambda p: (p["start_at"], p["verbatim"]))
    assert [(p["synopsis"], p["verbatim"], p["start_at"]) for p in passages] == [
        (SYNOPSIS, False, T0), ("", True, T0 + 2400), ("", True, T0 + 2520)]
    chunk, rent, sweepers = passages
    assert chunk["text"].count("\n") == len(CALL) - 1  # the model's chunk as it made it: nothing lost
    assert rent["text"] == "user: oh and mrs o says it's 2,225 a month from now on"
    assert sweepers["text"] == "user: the sweepers on my block switched to weds 8-10"

    found = await search(server, agent["id"], "How much is my rent?", limit=3)
    assert found[0]["id"] == rent["id"] and chunk["id"] in found[0]["previously"], [p["text"][:40] for p in found]
    # told in other words ("sweepers", no "street cleaning"): found, its version order is the ranking's business
    found = await search(server, agent["id"], "When is street cleaning on my block?", limit=3)
    assert sweepers["id"] in [p["id"] for p in found], [p["text"][:40] for p in found]


async def test_no_change_line_is_doubled_when_the_chunk_is_that_line_or_nothing_came_before(server: Running
                                                                                              ) -> None:
    agent = await create_voice_agent(server)
    server.fake.script([store_call((0, 3, SYNOPSIS), (6, 7, "The rent is now 2,225 a month."))],
                       [rethink_call("Landlord: Mrs Okafor.")], [finish_call()])
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/messages/import", json={
        "messages": [{"role": r, "content": c, "said_at": T0 + 60 * m} for r, c, m in CALL]})
    assert status == 202, body
    await manager(server).wait_idle(agent["id"])
    passages = await archived(server, agent["id"])
    assert sorted((p["synopsis"], p["verbatim"]) for p in passages) == [
        ("The rent is now 2,225 a month.", False), (SYNOPSIS, False)]  # the change has its own chunk already
