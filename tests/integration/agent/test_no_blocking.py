"""Once a server is up, serving turns never blocks the event loop from voice-letta's own code (blockbuster)."""

from __future__ import annotations

import json

from blockbuster import blockbuster_ctx

from tests.fakes.openai_server import Text, ToolCall
from tests.integration.agent.conftest import Running


async def test_turns_and_rest_calls_do_not_block_the_loop(server: Running) -> None:
    agent = await server.create_agent()  # start-up work (creating the agent) may touch the disk
    args = json.dumps({"pre_exec_msg": "Checking.", "convo_keyword_queries": ["tea"],
                       "start_minutes_ago": None, "end_minutes_ago": None})
    server.fake.script([Text("Hello. ")], [ToolCall("search_memory", args)], [Text("Nothing yet.")])
    client = server.client()
    with blockbuster_ctx(["voice_letta"]):
        for text in ("Hi!", "Do I like tea?"):
            stream = await client.chat.completions.create(
                model=agent["id"], messages=[{"role": "user", "content": text}], stream=True,
                stream_options={"include_usage": True})
            async for _ in stream:
                pass
        for path in (f"/v1/agents/{agent['id']}", f"/v1/agents/{agent['id']}/messages", "/v1/agents"):
            status, _ = await server.request("GET", path)
            assert status == 200
        status, _ = await server.request("PATCH", f"/v1/agents/{agent['id']}/blocks/human", json={"value": "Tea."})
        assert status == 200
    rows = await server.store.list_messages(agent["id"])
    assert [m.role for m in rows] == ["user", "assistant", "user", "assistant", "tool", "assistant"]
