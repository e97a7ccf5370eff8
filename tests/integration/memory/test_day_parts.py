"""The part of a day a window question names ("yesterday evening", "this morning", "on tuesday afternoon"):
its lines are listed first, on the user's clock, and search_memory tells the model which hours they are. Before, a
busy day's listing was earliest first and cut at its budget: "What did I tell you yesterday evening?" listed twelve
morning lines and none of the evening. Real server, real SQLite file, the openai SDK against the scripted fake, a user
at UTC-8.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.fakes.openai_server import Text, ToolCall
from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent

TZ = "America/Los_Angeles"
CHORES = "gutter fence shed lawn hedge drain gate porch roof path boiler oven sink tap"
SEARCH = json.dumps({"pre_exec_msg": "Let me check my notes.", "convo_keyword_queries": None,
                     "start_minutes_ago": None, "end_minutes_ago": None})


def yesterdays_lines() -> dict[str, float]:
    """Fourteen lines in the user's yesterday morning, two in the afternoon, two in the evening (local times)."""
    day = datetime.now(ZoneInfo(TZ)).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    lines = {f"Morning note number {i}: the {word} needs doing.": (day + timedelta(hours=8, minutes=10 * i))
             for i, word in enumerate(CHORES.split())}
    lines["I had lunch with Priya at the Thai place."] = day + timedelta(hours=13)
    lines["The vet says Miso's tooth has to come out."] = day + timedelta(hours=15, minutes=30)
    lines["I watched the first episode of the new detective series."] = day + timedelta(hours=19)
    lines["My sister called, she is flying in on Thursday."] = day + timedelta(hours=22, minutes=30)
    return {text: at.timestamp() for text, at in lines.items()}


async def test_the_evening_is_listed_first_and_named(server: Running) -> None:
    agent = await create_voice_agent(server, max_messages=40, min_messages=20, timezone=TZ)
    lines = yesterdays_lines()
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/messages/import", json={
        "archive": False, "messages": [{"role": "user", "content": text, "said_at": t} for text, t in lines.items()]})
    assert status == 202, body

    client = server.client()
    server.fake.script([ToolCall("search_memory", SEARCH)], [Text("You watched a detective series.")])
    await client.chat.completions.create(model=agent["id"], messages=[
        {"role": "user", "content": "What did I tell you yesterday evening?"}])
    status, messages = await server.request("GET", f"/v1/agents/{agent['id']}/messages", params={"limit": "10"})
    listed = str([m for m in messages["data"] if m["role"] == "tool"][-1]["content"])
    # 18 lines, a budget of 12: the model is told it sees a part (recall/listing.py)
    note = "More was said in that time than fits here: these are 12 of the 18 lines"
    head = "Said in the evening (from 17:00, the user's time), in order:\n"
    assert listed.startswith(note) and f"\n{head}" in listed, listed
    evening = listed.split(f"\n{head}")[1].split("\nSaid at other times that day (not in the evening):\n")
    assert len(evening) == 2, listed
    assert evening[0] == ("- Yesterday at 19:00, the user said: I watched the first episode of the new detective "
                          "series.\n- Yesterday at 22:30, the user said: My sister called, she is flying in on "
                          "Thursday.")
    # the other ten spread over the rest of the day, its first and its last line kept
    rest = evening[1].splitlines()
    assert len(rest) == 10 and "Morning note number 0" in rest[0] and "Miso" in rest[-1], rest

    # the REST search lists the part first too, the rest of that day after it
    status, made = await server.request("POST", f"/v1/agents/{agent['id']}/archival/batch", json={
        "passages": [{"text": f"user: {text}", "start_at": t} for text, t in lines.items()]})
    assert status == 201, made
    for question, first in (("What did I say yesterday evening?", ["detective", "sister"]),
                            ("what did i tell you yesterday afternoon", ["Priya", "vet"])):
        status, found = await server.request("GET", f"/v1/agents/{agent['id']}/archival/search",
                                             params={"query": question, "limit": "4"})
        assert status == 200, found
        texts = [p["text"] for p in found["data"]]
        assert [w for w, t in zip(first, texts, strict=False) if w in t] == first, texts
        assert "Morning note number 0" in texts[2] and len(texts) == 4, texts
        part = found["window"]["part"]  # the REST search names the part it listed first, on the user's clock
        assert part["name"] == ("evening" if "evening" in question else "afternoon"), found["window"]
        assert datetime.fromtimestamp(part["start_at"], ZoneInfo(TZ)).hour == (17 if "evening" in question else 12)
    # a whole day of 18 lines in 4: spread over its hours, in order (the earliest four before: the evening was lost)
    status, found = await server.request("GET", f"/v1/agents/{agent['id']}/archival/search",
                                         params={"query": "What did I tell you yesterday?", "limit": "4"})
    texts = [p["text"] for p in found["data"]]
    assert len(texts) == 4 and "Morning note number 0" in texts[0] and "sister" in texts[-1], texts
    assert texts == sorted(texts, key=lambda t: lines[t.removeprefix("user: ")])
