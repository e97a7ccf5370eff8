"""Custom tools registered over REST and called by the voice agent in full turns, results spoken."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Text, ToolCall
from tests.integration.agent.conftest import Running, serving

PY_TOOL = '''
def order_status(order_id: str) -> str:
    """Look up the delivery status of an order.

    Args:
        order_id: The order number the customer gives.
    """
    return f"Order {order_id} ships tomorrow morning."
'''

TS_TOOL = """
/** Adds two numbers. */
export function add(a: number, b: number): number {
  return a + b;
}
"""


@pytest.fixture
async def server(tmp_path: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[Running]:
    async with serving(tmp_path, fake_openai, api_key=None, enable_sandbox=True) as running:
        yield running


async def chat(server: Running, agent_id: str, text: str) -> str:
    stream = await server.client().chat.completions.create(
        model=agent_id, messages=[{"role": "user", "content": text}], stream=True)
    return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])


async def register(server: Running, **body: Any) -> dict[str, Any]:
    status, tool = await server.request("POST", "/v1/tools", json=body)
    assert status == 201, tool
    return tool


async def test_python_tool_runs_in_a_turn_and_its_result_is_spoken(server: Running) -> None:
    tool = await register(server, source_type="python", source=PY_TOOL)
    assert tool["name"] == "order_status" and tool["parameters"]["required"] == ["order_id"]
    agent = await server.create_agent(tool_ids=[tool["id"]])
    server.fake.script(
        [ToolCall("order_status", json.dumps({"pre_exec_msg": "Let me look up that order.", "order_id": "1234"}))],
        [Text("Your order 1234 ships tomorrow morning.")])
    text = await chat(server, agent["id"], "Where is order 1234?")
    assert text == "Let me look up that order. Your order 1234 ships tomorrow morning."
    offered = next(t for t in server.fake.requests[0]["tools"] if t["function"]["name"] == "order_status")
    assert next(iter(offered["function"]["parameters"]["properties"])) == "pre_exec_msg"
    tool_msg = server.fake.requests[1]["messages"][-1]
    assert tool_msg["role"] == "tool" and "ships tomorrow morning" in tool_msg["content"]


@pytest.mark.skipif(shutil.which("node") is None, reason="TypeScript tools need Node.js")
async def test_typescript_tool_runs_in_a_turn(server: Running) -> None:
    tool = await register(server, source_type="typescript", source=TS_TOOL,
                          options={"filler": False, "timeout_s": 20})
    agent = await server.create_agent(tool_ids=[tool["id"]])
    server.fake.script([ToolCall("add", json.dumps({"a": 2, "b": 40}))], [Text("That makes 42.")])
    text = await chat(server, agent["id"], "What is 2 plus 40?")
    assert text == "That makes 42."
    offered = next(t for t in server.fake.requests[0]["tools"] if t["function"]["name"] == "add")
    assert "pre_exec_msg" not in offered["function"]["parameters"]["properties"]  # opted out of the filler
    assert server.fake.requests[1]["messages"][-1]["content"] == "42"


async def test_failing_tool_is_reported_to_the_model_not_the_listener(server: Running) -> None:
    tool = await register(server, source_type="python",
                          source="def explode(n: int) -> int:\n    raise RuntimeError('kaboom')\n")
    agent = await server.create_agent(tool_ids=[tool["id"]])
    server.fake.script([ToolCall("explode", json.dumps({"pre_exec_msg": "Trying.", "n": 1}))],
                       [Text("That did not work, sorry.")])
    text = await chat(server, agent["id"], "Explode.")
    assert text == "Trying. That did not work, sorry."
    assert "kaboom" in server.fake.requests[1]["messages"][-1]["content"]


async def test_bad_tool_source_is_rejected_at_registration(server: Running) -> None:
    for body in ({"source_type": "python", "source": "def broken(:\n  pass"},
                 {"source_type": "python", "source": "x = 1"},
                 {"source_type": "ruby", "source": "puts 1"}):
        status, data = await server.request("POST", "/v1/tools", json=body)
        assert status == 400, data
        assert data["error"]["message"]
    status, listed = await server.request("GET", "/v1/tools")
    assert listed["data"] == []


async def test_attach_and_detach(server: Running) -> None:
    tool = await register(server, source_type="python", source=PY_TOOL)
    agent = await server.create_agent()
    status, data = await server.request("POST", f"/v1/agents/{agent['id']}/tools/{tool['id']}")
    assert status == 200 and data["tools"] == ["order_status"]
    status, data = await server.request("DELETE", f"/v1/agents/{agent['id']}/tools/{tool['id']}")
    assert status == 200 and data["tools"] == []
