"""A retried turn that ended with a call of the client's own tool replays that call (found by QA from outside,
session 5).

A client that sent its tools and got `finish_reason: "tool_calls"` with a `get_weather` call, then re-sent the
same request (a timeout, a retry with or without an `Idempotency-Key`), got the turn replayed as it should (no
model call) but as `finish_reason: "tool_calls"` with no tool call in it: nothing to run, nothing to answer, the
conversation stuck. Now the replay carries the calls, ids included, streamed and not. Real server, real SQLite,
the openai SDK against the scripted fake.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.openai_server import ToolCall
from tests.integration.agent.conftest import Running

TOOLS: list[Any] = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
ASK = [{"role": "user", "content": "What's the weather in Paris?"}]


Calls = list[tuple[str, str, str]]


async def ask(server: Running, agent_id: str, *, stream: bool, **kw: Any) -> tuple[str | None, Calls]:
    client = server.client()
    if not stream:
        out = await client.chat.completions.create(model=agent_id, messages=ASK, tools=TOOLS, **kw)  # type: ignore[arg-type]
        calls = out.choices[0].message.tool_calls or []
        return out.choices[0].finish_reason, [(c.id, c.function.name, c.function.arguments) for c in calls]  # type: ignore[union-attr]
    parts: dict[int, list[str]] = {}
    finish = None
    chunks = await client.chat.completions.create(model=agent_id, messages=ASK, tools=TOOLS, stream=True,  # type: ignore[arg-type]
                                                  **kw)
    async for chunk in chunks:
        if not chunk.choices:
            continue
        for t in chunk.choices[0].delta.tool_calls or []:
            part = parts.setdefault(t.index, ["", "", ""])
            part[0] += t.id or ""
            part[1] += (t.function.name or "") if t.function else ""
            part[2] += (t.function.arguments or "") if t.function else ""
        finish = chunk.choices[0].finish_reason or finish
    return finish, [(p[0], p[1], p[2]) for _, p in sorted(parts.items())]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("keyed", [False, True])
async def test_a_replayed_turn_carries_the_client_tool_calls_it_ended_with(server: Running, stream: bool,
                                                                          keyed: bool) -> None:
    agent = await server.create_agent()
    server.fake.script([ToolCall("get_weather", '{"city": "Paris"}', id="call_w1")])
    kw: dict[str, Any] = {"extra_headers": {"Idempotency-Key": "weather-1"}} if keyed else {}
    first = await ask(server, agent["id"], stream=stream, **kw)
    assert first == ("tool_calls", [("call_w1", "get_weather", '{"city": "Paris"}')])
    again = await ask(server, agent["id"], stream=stream, **kw)
    assert again == first
    assert len(server.fake.requests) == 1  # replayed, not run again
    status, turns = await server.request("GET", f"/v1/agents/{agent['id']}/turns")
    assert status == 200 and len(turns["data"]) == 1
