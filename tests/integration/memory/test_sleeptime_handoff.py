"""Eviction → durable job → sleeptime run (scripted fake LLM over real HTTP) → passages + block → next prompt."""

from __future__ import annotations

import asyncio
import json
import time

from tests.fakes.openai_server import Pause, Text, ToolCall
from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import (
    create_voice_agent,
    finish_call,
    manager,
    rethink_call,
    say,
    seed_history,
    sleeptime_requests,
    store_call,
)
from voice_letta.config import LOCAL_EMBED_DIM, LOCAL_EMBED_MODEL
from voice_letta.server.keys import AGENT

EARLIER = [
    "user: My name is Sam and I live in Portland.",
    "assistant: Nice to meet you, Sam!",
    "user: I'm allergic to peanuts, keep that in mind for recipes.",
    "assistant: Got it, no peanuts.",
]


async def test_eviction_hands_lines_to_sleeptime_which_archives_them_and_rewrites_the_block(server: Running) -> None:
    agent = await create_voice_agent(server)
    t0 = time.time() - 3 * 86400
    seeded = await seed_history(
        server, agent["id"], [*EARLIER, "user: What's the weather like?", "assistant: Sunny and mild."], t0=t0)
    server.fake.script(
        [Text("Sure, here's one.")],  # the voice turn
        [store_call((0, 1, "The user is Sam and lives in Portland."),
                    (2, 3, "Sam is allergic to peanuts; avoid peanuts in recipes."))],
        [rethink_call("Name: Sam. Lives in Portland. Allergic to peanuts.")],
        [finish_call()],
    )
    await say(server, agent["id"], "Tell me a recipe idea.")
    jobs = await manager(server).wait_idle(agent["id"])
    assert [(j.kind, j.status, j.attempts) for j in jobs] == [("eviction", "done", 1)]
    # 8 messages > max 6: the target cut (8 - 5 = 3) walks forward to the user message at index 4.
    assert (jobs[0].payload.older_from_seq, jobs[0].payload.older_through_seq) == (seeded[0].seq, seeded[3].seq)
    window = await server.store.list_messages(agent["id"], in_context=True)
    assert [m.content for m in window][:2] == ["What's the weather like?", "Sunny and mild."]
    assert len(window) == 4

    # The sleeptime prompt: numbered (Older) lines 0..3, then (Newer) lines continuing at 4.
    [first, *_] = sleeptime_requests(server.fake)
    prompt = first["messages"][1]["content"]
    assert "0. user: My name is Sam and I live in Portland." in prompt
    assert "3. assistant: Got it, no peanuts." in prompt
    assert "4. user: What's the weather like?" in prompt.split("(Newer)")[1]
    assert "Nothing is known about the user yet." in first["messages"][0]["content"]  # the block it rewrites

    # Passages: synopsis, original lines, the time range in which they were said, embedded locally.
    status, listed = await server.request("GET", f"/v1/agents/{agent['id']}/archival")
    assert status == 200 and listed["total"] == 2
    p0, p1 = listed["data"]
    assert p0["synopsis"] == "The user is Sam and lives in Portland."
    assert p0["text"] == "user: My name is Sam and I live in Portland.\nassistant: Nice to meet you, Sam!"
    assert (p0["start_at"], p0["end_at"]) == (seeded[0].created_at, seeded[1].created_at)
    assert (p1["start_at"], p1["end_at"]) == (seeded[2].created_at, seeded[3].created_at)
    assert p1["embedding_model"] == LOCAL_EMBED_MODEL and p1["embedding_dim"] == LOCAL_EMBED_DIM
    assert "embedding" not in p1

    # The block was rewritten and the voice agent's next system prompt contains it.
    status, block = await server.request("GET", f"/v1/agents/{agent['id']}/blocks/human")
    assert block["value"] == "Name: Sam. Lives in Portland. Allergic to peanuts."
    server.fake.script([Text("Hi Sam.")])
    await say(server, agent["id"], "Hello again.")
    system = server.fake.requests[-1]["messages"][0]["content"]
    assert "Name: Sam. Lives in Portland. Allergic to peanuts." in system


async def test_rule_breaking_calls_get_hints_and_the_run_recovers(server: Running) -> None:
    agent = await create_voice_agent(server, limit=60)
    await seed_history(server, agent["id"], [*EARLIER, "user: Thanks.", "assistant: Anytime."],
                       t0=time.time() - 600)
    server.fake.script(
        [Text("Okay.")],
        [rethink_call("too early")],  # breaks the order: store_memories must come first
        [Text("I think I'm done.")],  # no tool call at all
        [store_call((0, 9, "out of range"))],  # bad indices: nothing stored
        [store_call((0, 3, "Sam, Portland, peanut allergy."))],
        [rethink_call("Sam lives in Portland and is allergic to peanuts; he likes recipes and long walks.")],
        [rethink_call("Sam; Portland; peanut allergy.")],
        [finish_call()],
    )
    await say(server, agent["id"], "Okay then.")
    jobs = await manager(server).wait_idle(agent["id"])
    assert jobs[-1].status == "done"
    requests = sleeptime_requests(server.fake)
    assert len(requests) == 7

    def last_feedback(i: int) -> str:
        return requests[i]["messages"][-1]["content"]

    assert "call store_memories first" in last_feedback(1)
    assert "answer only with tool calls" in last_feedback(2)
    assert "(Older) lines 0..3" in last_feedback(3)
    assert "Stored 1 memories" in last_feedback(4)
    assert "holds at most 60" in last_feedback(5) and "Shorten it" in last_feedback(5)
    assert requests[0]["tool_choice"] == {"type": "function", "function": {"name": "store_memories"}}
    _status, block = await server.request("GET", f"/v1/agents/{agent['id']}/blocks/human")
    assert block["value"] == "Sam; Portland; peanut allergy."
    _status, listed = await server.request("GET", f"/v1/agents/{agent['id']}/archival")
    assert listed["total"] == 1


async def test_a_concurrent_block_edit_is_merged_not_lost(server: Running) -> None:
    agent = await create_voice_agent(server, human="Name: Sam.")
    await seed_history(server, agent["id"], [*EARLIER, "user: Thanks.", "assistant: Anytime."],
                       t0=time.time() - 600)
    server.fake.script(
        [Text("Okay.")],
        [store_call((0, 3, "Sam lives in Portland and is allergic to peanuts."))],
        [Pause(1.5), rethink_call("Name: Sam. Lives in Portland. Allergic to peanuts.")],
        [rethink_call("Name: Sam. Lives in Portland. Allergic to peanuts. Prefers to be called Sammy.")],
        [finish_call()],
    )
    await say(server, agent["id"], "Okay then.")
    async with asyncio.timeout(60):
        while len(sleeptime_requests(server.fake)) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    # The user edits the block while the sleeptime model is still thinking about its rewrite.
    status, edited = await server.request("PATCH", f"/v1/agents/{agent['id']}/blocks/human",
                                          json={"value": "Name: Sam. Prefers to be called Sammy."})
    assert status == 200, edited
    jobs = await manager(server).wait_idle(agent["id"])
    assert jobs[-1].status == "done"
    requests = sleeptime_requests(server.fake)
    conflict = requests[2]["messages"][-1]["content"]
    assert "changed by someone else" in conflict and "Prefers to be called Sammy." in conflict
    status, block = await server.request("GET", f"/v1/agents/{agent['id']}/blocks/human")
    assert "Sammy" in block["value"] and "Portland" in block["value"]
    assert block["version"] == edited["version"] + 1


async def test_cross_session_recall_finds_an_evicted_fact_with_search_memory(server: Running) -> None:
    agent = await create_voice_agent(server)
    await seed_history(server, agent["id"], [
        "user: My sister Maya just moved to Lisbon for a design job.",
        "assistant: How exciting for her!",
        "user: I might visit her in October.",
        "assistant: October is lovely there.",
        "user: Anyway, what's new?", "assistant: Not much!"], t0=time.time() - 2 * 86400)
    server.fake.script(
        [Text("Bye for now.")],
        [store_call((0, 3, "The user's sister Maya moved to Lisbon for a design job; the user may visit in October."))],
        [rethink_call("Has a sister, Maya, in Lisbon.")],
        [finish_call()],
    )
    await say(server, agent["id"], "Talk later.")
    await manager(server).wait_idle(agent["id"])
    # Session 1 ends: the remaining lines are handed over too (no eviction).
    server.fake.script([store_call((0, 1, "Small talk before ending the call."))],
                       [rethink_call("Has a sister, Maya, in Lisbon.")], [finish_call()])
    await server.app[AGENT].end_session(agent["id"])
    jobs = await manager(server).wait_idle(agent["id"])
    assert [j.kind for j in jobs] == ["eviction", "session_end"] and jobs[-1].status == "done"

    # Session 2: the model asks search_memory; the result names Lisbon, dated two days ago.
    search_args = {"pre_exec_msg": "Let me check my notes.", "convo_keyword_queries": ["sister"],
                   "start_minutes_ago": None, "end_minutes_ago": None}
    server.fake.script([ToolCall("search_memory", json.dumps(search_args))], [Text("She lives in Lisbon.")])
    await say(server, agent["id"], "Where did my sister move to?")
    tool_results = [m for m in server.fake.requests[-1]["messages"] if m["role"] == "tool"]
    assert "Lisbon" in tool_results[-1]["content"]
    assert "2 days ago" in tool_results[-1]["content"]
