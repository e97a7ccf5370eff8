"""What an outsider met through the documented doors (session 19), over a real socket: once the sleeptime agent's
embedding process had died, every memory job of every agent failed ("BrokenProcessPool: A child process terminated
abruptly, the process pool is not usable anymore", three attempts each) until the server was restarted, so nothing
said after it was ever archived."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import time
from typing import Any

from tests.fakes.openai_server import ToolCall
from tests.integration.agent.conftest import Running, openai_llm


async def _archive(server: Running, agent_id: str, line: str, said_at: float) -> list[dict[str, Any]]:
    """Import one user line with ``archive: true`` (the sleeptime model stores no chunk, so the line is archived
    word for word, embedded by the background process) and wait for its memory job through REST."""
    server.fake.script([ToolCall("store_memories", json.dumps({"chunks": []}))],
                       [ToolCall("rethink_user_memory", json.dumps({"new_memory": ""}))],
                       [ToolCall("finish_rethinking_memory", "{}")])
    status, body = await server.request("POST", f"/v1/agents/{agent_id}/messages/import", json={
        "messages": [{"role": "user", "content": line, "said_at": said_at}]})
    assert status == 202, body
    async with asyncio.timeout(120):
        while True:
            status, jobs = await server.request("GET", f"/v1/agents/{agent_id}/memory/jobs")
            assert status == 200, jobs
            if all(j["status"] in ("done", "failed") for j in jobs["data"]):
                return list(jobs["data"])
            await asyncio.sleep(0.2)


async def test_memory_jobs_archive_again_after_the_embedding_process_died(server: Running) -> None:
    agent = await server.create_agent(name="niamh", sleeptime_llm=openai_llm(server.fake, model="fake-sleeptime"))
    before = {p.pid for p in multiprocessing.active_children()}
    jobs = await _archive(server, agent["id"], "My bike lock code is 4471.", time.time() - 2 * 86400)
    assert [j["status"] for j in jobs] == ["done"], jobs
    side = [p for p in multiprocessing.active_children() if p.pid not in before]
    assert len(side) == 1, side  # the background embedder, started by the first job
    os.kill(side[0].pid, signal.SIGKILL)  # as the OOM killer would
    side[0].join(10)

    jobs = await _archive(server, agent["id"], "My sister Aoife lives in Cork now.", time.time() - 86400)
    assert [(j["status"], j["error"]) for j in jobs] == [("done", None), ("done", None)], jobs
    status, found = await server.request("GET", f"/v1/agents/{agent['id']}/archival/search",
                                         params={"query": "Where does Aoife live?"})
    assert status == 200 and "Cork" in found["data"][0]["text"], found


async def test_a_block_rewrite_of_figures_alone_is_refused(server: Running) -> None:
    """The embedded model rewrote the human block ("Nothing is known about the user yet.") as "2.0" after an
    evening of facts; no check judged it (a figure is not a content word) and every later prompt carried "2.0"."""
    agent = await server.create_agent(name="niamh-block",
                                      sleeptime_llm=openai_llm(server.fake, model="fake-sleeptime"))
    server.fake.script([ToolCall("store_memories", json.dumps({"chunks": []}))],
                       [ToolCall("rethink_user_memory", json.dumps({"new_memory": "2.0"}))],
                       [ToolCall("finish_rethinking_memory", "{}")])
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/messages/import", json={
        "messages": [{"role": "user", "content": "Hi, I'm Niamh. My bike lock code is 4471.",
                      "said_at": time.time() - 86400}]})
    assert status == 202, body
    async with asyncio.timeout(120):
        while True:
            status, jobs = await server.request("GET", f"/v1/agents/{agent['id']}/memory/jobs")
            if all(j["status"] in ("done", "failed") for j in jobs["data"]):
                break
            await asyncio.sleep(0.2)
    assert [j["status"] for j in jobs["data"]] == ["done"], jobs
    status, block = await server.request("GET", f"/v1/agents/{agent['id']}/blocks/human")
    assert status == 200 and block["value"] != "2.0", block
    told = [str(m.get("content")) for r in server.fake.requests if r.get("model") == "fake-sleeptime"
            for m in r["messages"] if m["role"] == "tool"]
    assert any("says nothing about the user" in t for t in told), told
