"""The user's own earlier question is not the answer (QA's outsider check, session 18).

Lines not archived yet are matched by keyword, and an earlier "When does the recycling go out?" shares every word of
the same question asked now: search_memory listed it first, as the confident result, and the line that answers it
("(not sure this is related)") after it. A line not archived has no vector: its confidence is its share of the
question's words, so "goes out" for "go out" (Porter: "goe") leaves the answer itself unsure here."""

from __future__ import annotations

import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent, seed_history
from voice_letta.server.http_memory import MEMORY_SEARCH

DAY = 86_400.0


async def test_an_earlier_question_ranks_after_the_line_that_answers_it(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    said = await seed_history(server, agent["id"], [
        "user: When does the recycling go out?",
        "assistant: I'm not sure, you haven't told me.",
        "user: The recycling goes out every other Tuesday morning, the blue bin.",
        "assistant: Got it.",
    ], t0=now - 2 * DAY)
    await server.store.evict_messages(agent["id"], through_seq=said[-1].seq)  # out of the model's view, unarchived
    await seed_history(server, agent["id"], ["user: Thanks."], t0=now - 60)
    search = server.app[MEMORY_SEARCH]

    text = await search.search(agent["id"], "When does the recycling go out?", {}, now=now)
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(lines) == 2 and "every other Tuesday" in lines[0], text
    assert "When does the recycling go out?" in lines[1] and "not sure this is related" in lines[1], text

    # Asked what was asked, the question is what is wanted.
    text = await search.search(agent["id"], "What did I ask you about the recycling?", {}, now=now)
    assert "When does the recycling go out?" in text and "not sure this is related" not in text.split("\n")[0], text
