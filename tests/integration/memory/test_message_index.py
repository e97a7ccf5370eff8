"""Out-of-context lines (evicted or imported, not archived yet) are searched in the agent's own in-memory postings:
found at once after they leave the context, in any process, and never ranked by other agents' data."""

from __future__ import annotations

import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from voice_letta.server.http_memory import MEMORY_SEARCH

DAY = 86400.0


async def _import(server: Running, agent_id: str, lines: list[str], t0: float) -> None:
    status, body = await server.request("POST", f"/v1/agents/{agent_id}/messages/import", json={
        "messages": [{"role": "user", "content": text, "said_at": t0 + 60 * i} for i, text in enumerate(lines)],
        "archive": False})
    assert status == 202, body


def _results(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("- ")]


async def test_lines_are_found_fresh_per_agent_and_other_agents_change_nothing(server: Running) -> None:
    agent = await create_voice_agent(server)
    other = await create_voice_agent(server)
    t0 = time.time() - 3 * DAY
    await _import(server, agent["id"], ["My kayak is red and I paddle on the river on Sundays.",
                                        "The dentist appointment is on Friday.",
                                        "I paddle faster with the new kayak paddle."], t0)
    search = server.app[MEMORY_SEARCH]
    before = _results(await search.search(agent["id"], "kayak paddle", {}, now=t0 + DAY))
    assert before and all("kayak" in line or "paddle" in line for line in before[:2])
    # A stranger talks about kayaks a lot: the first agent's results (and their order) do not move.
    await _import(server, other["id"], [f"kayak kayak trip number {i}" for i in range(300)], t0)
    assert _results(await search.search(agent["id"], "kayak paddle", {}, now=t0 + DAY)) == before
    # A line that leaves the agent's context after the first search is found by the next one.
    await _import(server, agent["id"], ["Booked a kayak lesson with Marta for next week."], t0 + 600)
    after = _results(await search.search(agent["id"], "kayak lesson with Marta", {}, now=t0 + DAY))
    assert "Marta" in after[0]
    # Another agent's lines are never returned.
    assert not any("trip number" in line for line in after)
