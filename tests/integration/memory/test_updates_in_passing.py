"""Updates said in passing (recall/updates.py) through the real server: a bare "now" is not enough to replace an
unrelated fact. Found from outside: with "I work at Google as an engineer." (60 days ago) and "I live in Seattle
now." (3 days ago), "Where do I work?" was answered first with "I live in Seattle now.", listed as replacing the job
(short first-person lines are 0.35-0.41 apart in MiniLM with nothing in common, above the cue cosine 0.35)."""

from __future__ import annotations

import time

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.memory.test_recall import batch, search

DAY = 86400.0


async def test_a_bare_now_does_not_replace_an_unrelated_fact(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    google, boston, seattle, gym, ironworks, *_ = await batch(server, agent["id"], [
        {"text": "user: I work at Google as an engineer.", "start_at": now - 60 * DAY},
        {"text": "user: I live in Boston.", "start_at": now - 60 * DAY + 60},
        {"text": "user: I live in Seattle now.", "start_at": now - 3 * DAY},
        {"text": "user: My gym membership is at FitLife.", "start_at": now - 60 * DAY + 120},
        {"text": "user: I switched gyms, I go to IronWorks now.", "start_at": now - 3 * DAY + 60},
    ] + [{"text": f"user: {t}", "start_at": now - 90 * DAY + i * 60} for i, t in enumerate(
        ["I enjoy hiking on weekends.", "My sister lives in Porto.", "I have a cat named Miso.",
         "I'm learning Spanish.", "My birthday is on July 4."])])
    found = await search(server, agent["id"], "Where do I work?", limit=3)
    assert found[0]["id"] == google, [p["text"] for p in found]
    assert all(google not in p["previously"] for p in found)
    # a real update with a bare "now" still goes first (near-duplicate), and a strong cue ("switched") still links
    found = await search(server, agent["id"], "Where do I live?", limit=2)
    assert [p["id"] for p in found] == [seattle, boston] and found[0]["previously"] == [boston]
    found = await search(server, agent["id"], "Which gym do I go to?", limit=2)
    assert [p["id"] for p in found] == [ironworks, gym] and found[0]["previously"] == [gym]


async def test_facts_of_one_shape_do_not_replace_each_other(server: Running) -> None:
    """Found from outside: "my birthday is on july 4" and "our wedding is planned for june" are 0.50 alike (the
    near-duplicate threshold was 0.5), and "we pushed the wedding back to september" (a cue, 0.41 alike the
    birthday) was linked to the birthday: "What's my birthday?" came back as the wedding, replacing the birthday."""
    agent = await create_voice_agent(server)
    now = time.time()
    birthday, planned, pushed, *_ = await batch(server, agent["id"], [
        {"text": "user: My birthday is on July 4.", "start_at": now - 90 * DAY},
        {"text": "user: Our wedding is planned for June.", "start_at": now - 60 * DAY},
        {"text": "user: We pushed the wedding back to September.", "start_at": now - 3 * DAY},
        {"text": "user: My flight to Rome leaves on May 3.", "start_at": now - 60 * DAY + 60},
        {"text": "user: I enjoy hiking on weekends.", "start_at": now - 90 * DAY + 60}])
    for question in ("What's my birthday?", "When is my birthday?"):
        found = await search(server, agent["id"], question, limit=3)
        assert found[0]["id"] == birthday and found[0]["previously"] == [], [p["text"] for p in found]
        assert all(birthday not in p["previously"] for p in found)
    found = await search(server, agent["id"], "When is our wedding?", limit=2)
    assert [p["id"] for p in found] == [pushed, planned] and found[0]["previously"] == [planned]


async def test_a_new_state_beginning_replaces_the_old_one(server: Running) -> None:
    """Found from outside: "I just started a new job at Stripe." has no change cue ("now", "moved"…) and is 0.39
    alike "I work at Google as an engineer." (no word in common): "Where do I work?" answered Google. A new state
    beginning ("started", "joined", "became") is an update cue."""
    agent = await create_voice_agent(server)
    now = time.time()
    google, stripe, *_ = await batch(server, agent["id"], [
        {"text": "user: I work at Google as an engineer.", "start_at": now - 60 * DAY},
        {"text": "user: I just started a new job at Stripe.", "start_at": now - 2 * DAY},
    ] + [{"text": f"user: {t}", "start_at": now - 90 * DAY + i * 60} for i, t in enumerate(
        ["I enjoy hiking on weekends.", "My sister lives in Porto.", "I have a cat named Miso.",
         "I'm learning Spanish.", "My birthday is on July 4.", "I live in Boston."])])
    found = await search(server, agent["id"], "Where do I work?", limit=3)
    assert found[0]["id"] == stripe and found[0]["previously"] == [google], [p["text"] for p in found]
    found = await search(server, agent["id"], "Where did I work before?", limit=3)  # the past: no link
    assert all(p["previously"] == [] for p in found)
