"""Out-of-context lines that share only a memory question's frame with it do not push out its answer (found by QA
from outside, session 5).

An agent on a strict Anthropic fake had archived "I work as a nurse at the Royal Free." Asked "What did I tell you
about my job? Do you remember?", ``search_memory`` listed four lines not archived yet instead: an earlier question
("Do you remember where my sister lives?"), the model's own "I don't remember that" reply and "tell me a joke"
lines. They matched "tell" and "remember" (two of the question's three terms), so their keyword-only confidence was
above the archived answer's, and the answer was cut from the list. Such lines are now scored on the question's
topic words ("job") when it has any. Real server, real SQLite, the openai SDK against the scripted fake.
"""

from __future__ import annotations

import json
import time

from tests.fakes.openai_server import Text, ToolCall
from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.memory.test_window_lines import tool_text

SEARCH = json.dumps({"pre_exec_msg": "Let me check.", "convo_keyword_queries": None,
                     "start_minutes_ago": None, "end_minutes_ago": None})


async def test_lines_sharing_only_the_question_frame_do_not_outrank_the_answer(server: Running) -> None:
    agent = await create_voice_agent(server, max_messages=40, min_messages=20)
    now = time.time()
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/archival", json={
        "text": "user: I work as a nurse at the Royal Free.", "start_at": now - 3 * 86400})
    assert status == 201, body
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/messages/import", json={
        "archive": False, "messages": [
            {"role": "user", "content": "Do you remember where my sister lives?", "said_at": now - 7200},
            {"role": "assistant", "content": "Sorry, I don't remember that. Can you tell me again?",
             "said_at": now - 7190},
            {"role": "user", "content": "Never mind, tell me a joke.", "said_at": now - 7100},
            {"role": "assistant", "content": "Let me tell you one about a penguin.", "said_at": now - 7090},
            {"role": "user", "content": "Remind me to buy bread.", "said_at": now - 7000}]})
    assert status == 202, body

    client = server.client()
    server.fake.script([ToolCall("search_memory", SEARCH)], [Text("You are a nurse.")])
    await client.chat.completions.create(model=agent["id"], messages=[
        {"role": "user", "content": "What did I tell you about my job? Do you remember?"}])
    listed = await tool_text(server, agent["id"])
    lines = listed.splitlines()
    results = [line for line in lines if line.startswith("- ")]
    assert results and "nurse at the Royal Free" in results[0], listed  # the answer leads (its confidence is
    # the ranking's business: this one passage alone scores below 0.5)
    # the frame-only lines are not confident results
    for line in results:
        if any(w in line for w in ("sister", "joke", "penguin", "don't remember", "bread")):
            assert "not sure this is related" in line, listed

    # a line that does share the topic is still found by keyword
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/messages/import", json={
        "archive": False, "messages": [
            {"role": "user", "content": "My job interview at the clinic went well.", "said_at": now - 3600}]})
    assert status == 202, body
    server.fake.script([ToolCall("search_memory", SEARCH)], [Text("It went well.")])
    await client.chat.completions.create(model=agent["id"], messages=[
        {"role": "user", "content": "Do you remember what I said about the job interview?"}])
    listed = await tool_text(server, agent["id"])
    assert "the user said: My job interview at the clinic went well." in listed, listed
