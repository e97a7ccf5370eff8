"""What an outsider met through the documented doors (session 18), each over a real socket: the embedded model's
``search_memory`` arguments with nested keywords (``[["array"], ["null"]]``) or objects among them ran no search."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp

from tests.fakes.openai_server import Text, ToolCall
from tests.integration.agent.conftest import Running


async def _send(url: str, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.request(method, url + path, json=body) as r:
        return r.status, await r.json()


async def _tool_result(server: Running, agent_id: str, arguments: dict[str, Any], question: str) -> str:
    server.fake.script([ToolCall("search_memory", json.dumps(arguments))], [Text("Here is what I found.")])
    before = len(server.fake.requests)
    await server.client().chat.completions.create(
        model=agent_id, messages=[{"role": "user", "content": question}])
    result = server.fake.requests[before + 1]["messages"][-1]
    assert result["role"] == "tool", result
    return str(result["content"])


async def test_nested_keywords_of_the_embedded_model_still_search_the_users_words(server: Running) -> None:
    """Seen with the embedded SmolLM2 on chat completions with ``tool_choice`` search_memory: every call wrote
    ``"convo_keyword_queries": [["array"], ["null"]]`` (the schema's type names, nested) with a junk window. The
    tool answered "invalid arguments … ['array'] is not of type 'string'", the model called it again the same way
    until the rounds ran out, and "Where are the shear pins?" never reached the memory."""
    agent = await server.create_agent(name="stjohns")
    status, made = await _send(server.url, "POST", f"/v1/agents/{agent['id']}/archival/batch", {"passages": [
        {"text": "user: The snowblower's shear pins are in the blue tackle box in the shed.",
         "start_at": time.time() - 3 * 86400}]})
    assert status == 201, made
    args = {"pre_exec_msg": "Let me check.", "convo_keyword_queries": [["array"], ["null"]],
            "start_minutes_ago": 18093756240, "end_minutes_ago": -1}
    result = await _tool_result(server, agent["id"], args, "Where are the shear pins for the snowblower?")
    assert "invalid arguments" not in result, result
    assert "blue tackle box" in result, result


async def test_a_number_and_a_null_among_the_keywords_are_searched_as_text(server: Running) -> None:
    """``[55120, null]``: the order number is a keyword (as text), the null is dropped; before, a refusal."""
    agent = await server.create_agent(name="parcel")
    status, made = await _send(server.url, "POST", f"/v1/agents/{agent['id']}/archival/batch", {"passages": [
        {"text": "user: order 55120 is the standing desk, it is stuck at customs in Dublin.",
         "start_at": time.time() - 86400},
        {"text": "user: my sister's flight lands at six.", "start_at": time.time() - 2 * 86400}]})
    assert status == 201, made
    args = {"pre_exec_msg": "One moment.", "convo_keyword_queries": [55120, None],
            "start_minutes_ago": None, "end_minutes_ago": None}
    result = await _tool_result(server, agent["id"], args, "Any news on that one?")
    assert "invalid arguments" not in result, result
    assert "customs in Dublin" in result, result


async def test_keywords_and_a_window_of_another_kind_leave_the_users_words_searched(server: Running) -> None:
    """Seen next with the embedded model: an object among the keywords (``[{"id": "4389650213-9bdda", "name": "You're
    an AI Assistant,"}]``), refused again and again until the rounds ran out. The user's words are always searched,
    so an argument that fits nothing is dropped (a window that is no number too) and the search runs."""
    agent = await server.create_agent(name="objects")
    status, made = await _send(server.url, "POST", f"/v1/agents/{agent['id']}/archival/batch", {"passages": [
        {"text": "user: my standing desk is in the spare room now.", "start_at": time.time() - 86400}]})
    assert status == 201, made
    args = {"pre_exec_msg": {"text": "One moment."}, "convo_keyword_queries": [{"id": "4389650213-9bdda"}],
            "start_minutes_ago": "yesterday", "end_minutes_ago": None}
    result = await _tool_result(server, agent["id"], args, "Where is my standing desk?")
    assert "invalid arguments" not in result, result
    assert "spare room" in result, result
