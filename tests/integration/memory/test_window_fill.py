"""A question about a time that names a topic ("What did I order last week?") hears what was said then.

The topic ranks the window's lines, but the lines that answer often do not say the topic's word: a shop's order is
written as its items ("2x brake pads, 1x chain KMC X11"), a note is signed "— T" rather than "Thandi". Before, only
the lines ranked by the topic came back (test16's bike shop: 1 of 4 lines). Now the window's other lines follow the
ranked ones, in the order said, at low confidence (recall/listing.py), and search_memory heads them. Lines outside
the window never come. Real server, real SQLite file, the openai SDK against the scripted fake.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.fakes.openai_server import Text, ToolCall
from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent

SEARCH = json.dumps({"pre_exec_msg": "Let me check my notes.", "convo_keyword_queries": None,
                     "start_minutes_ago": None, "end_minutes_ago": None})


def shop_notes() -> dict[str, float]:
    """Eight notes of last week (Monday to Sunday, UTC; more than the few nearest in meaning a ranking keeps) and one of
    this week."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday() + 7)
    week = ["2x brake pads Shimano B01S and 1x chain KMC X11 from Velotech, due Thursday",
            "Placed the order for twenty inner tubes with Velotech",
            "Trued the rear wheel on Mrs Holm's cargo bike, she collects Monday",
            "Till was 40 kroner short at closing, counted twice",
            "Swept the workshop and oiled the stand clamps",
            "Lars called in sick, covered the counter myself",
            "The window display got the new gravel bike",
            "Paid the electricity bill for the shop"]
    notes = {text: (monday + timedelta(days=d % 7, hours=9 + d)).timestamp() for d, text in enumerate(week)}
    return notes | {"Remember to order new saddles": (today + timedelta(minutes=1)).timestamp()}


async def test_a_window_question_with_a_topic_lists_the_windows_other_lines_after_the_ranked(server: Running) -> None:
    agent = await create_voice_agent(server, max_messages=40, min_messages=20)
    notes = shop_notes()
    status, made = await server.request("POST", f"/v1/agents/{agent['id']}/archival/batch", json={
        "passages": [{"text": text, "start_at": t} for text, t in notes.items()]})
    assert status == 201, made
    ids = {p["text"]: p["id"] for p in made["data"]}
    status, found = await server.request("GET", f"/v1/agents/{agent['id']}/archival/search",
                                         params={"query": "What did I order last week?", "limit": "10"})
    assert status == 200, found
    got = [p["text"] for p in found["data"]]
    assert sorted(got) == sorted(list(notes)[:8]), got  # every line of last week, none of this week
    filled = found["window"]["filled"]
    assert found["window"]["listed"] is False and filled >= 1, found["window"]
    ranked, listed = found["data"][:-filled], found["data"][-filled:]
    assert all(p["confidence"] == 0.1 and p["score"] == 0.0 for p in listed), listed
    assert [p["start_at"] for p in listed] == sorted(p["start_at"] for p in listed)  # in the order said
    assert ids["Placed the order for twenty inner tubes with Velotech"] in [p["id"] for p in ranked], ranked

    # within a limit: the ranked first, the window's other lines only as far as it allows
    status, found = await server.request("GET", f"/v1/agents/{agent['id']}/archival/search",
                                         params={"query": "What did I order last week?", "limit": "1"})
    assert [p["text"] for p in found["data"]] == ["Placed the order for twenty inner tubes with Velotech"], found
    assert found["window"]["filled"] == 0
    # a question with no time is ranked as before: nothing is filled in
    status, found = await server.request("GET", f"/v1/agents/{agent['id']}/archival/search",
                                         params={"query": "inner tubes order", "limit": "10"})
    assert found["window"] is None and all(p["confidence"] != 0.1 or p["score"] != 0.0 for p in found["data"])

    # search_memory: the ranked lines, then what else was said then, dated, in order
    client = server.client()
    server.fake.script([ToolCall("search_memory", SEARCH)], [Text("Inner tubes, pads and a chain.")])
    await client.chat.completions.create(model=agent["id"], messages=[
        {"role": "user", "content": "What did I order last week?"}])
    status, messages = await server.request("GET", f"/v1/agents/{agent['id']}/messages", params={"limit": "10"})
    text = str([m for m in messages["data"] if m["role"] == "tool"][-1]["content"])
    assert all(w in text for w in ("inner tubes", "KMC X11", "Mrs Holm", "40 kroner", "electricity")), text
    assert "saddles" not in text, text
    assert "Also said then" in text or "this is what was said then, in order" in text, text


async def test_a_weekday_with_no_verb_lists_its_plans_then_what_was_said_on_the_last_one(server: Running) -> None:
    """"Anything on Saturday?" has no tense: a care log asks what was noted on Saturday, a diary what is on for it.
    Both come: the lines that say the weekday first (newest first, at most half the limit), then the last Saturday's
    lines, in order. Before, it had no window and was ranked by 'saturday' alone (test16: the walker delivered on
    Saturday was not found)."""
    agent = await create_voice_agent(server, max_messages=40, min_messages=20)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    saturday = today - timedelta(days=(today.weekday() - 5) % 7 or 7)
    notes = {"Dentist for Dad on Saturday at 10, bring his card": (saturday - timedelta(days=9)).timestamp(),
             "New walker delivered, grey one, keep it by his chair": (saturday + timedelta(hours=10)).timestamp(),
             "He ate all of his soup at lunch": (saturday + timedelta(hours=13)).timestamp(),
             "Pharmacy says the blister packs are ready": (saturday - timedelta(days=3)).timestamp()}
    status, made = await server.request("POST", f"/v1/agents/{agent['id']}/archival/batch", json={
        "passages": [{"text": text, "start_at": t} for text, t in notes.items()]})
    assert status == 201, made
    status, found = await server.request("GET", f"/v1/agents/{agent['id']}/archival/search",
                                         params={"query": "Anything on Saturday?", "limit": "5"})
    assert status == 200, found
    assert [p["text"] for p in found["data"]] == list(notes)[:3], found["data"]
    window = found["window"]
    assert (window["from"], window["listed"], window["start_at"]) == ("words", True, saturday.timestamp()), window
    # a verb reads the tense as before: "What happened Saturday?" lists the day only
    status, found = await server.request("GET", f"/v1/agents/{agent['id']}/archival/search",
                                         params={"query": "What happened Saturday?", "limit": "5"})
    assert [p["text"] for p in found["data"]] == list(notes)[1:3], found["data"]
