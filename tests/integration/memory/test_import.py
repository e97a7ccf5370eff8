"""Importing a past conversation with its times: out of context at once, then through the sleeptime agent."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from tests.fakes.openai_server import FakeOpenAIServer, Text
from tests.integration.agent.conftest import Running, openai_llm, start_server
from tests.integration.memory.conftest import (
    create_voice_agent,
    finish_call,
    manager,
    rethink_call,
    say,
    sleeptime_requests,
    store_call,
)
from voice_letta import ids
from voice_letta.agent.buffer import estimate_tokens
from voice_letta.agent.imports import IMPORT_PART_CONTEXT_SHARE, IMPORT_PART_LINES, import_parts, split_text
from voice_letta.agent.models import Message
from voice_letta.server.http_memory import MEMORY_SEARCH

DAY = 86400.0


async def test_an_imported_conversation_is_searchable_then_archived_with_its_times(server: Running) -> None:
    agent = await create_voice_agent(server)
    t0 = time.time() - 40 * DAY
    conversation = [
        {"role": "user", "content": "I just moved to Porto for a job at a wine exporter.", "said_at": t0},
        {"role": "assistant", "content": "Congratulations on the move!", "said_at": t0 + 30},
        {"role": "user", "content": "My cat Miso hates the new flat though.", "said_at": t0 + 90},
        {"role": "assistant", "content": "She'll settle in.", "said_at": t0 + 120},
    ]
    server.fake.script(
        [store_call((0, 1, "The user moved to Porto for a job at a wine exporter."),
                    (2, 3, "The user's cat Miso dislikes the new flat."))],
        [rethink_call("Lives in Porto, works at a wine exporter. Cat: Miso.")],
        [finish_call()])
    # sent out of order: the server keeps the order in which things were said
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/messages/import",
                                        json={"messages": conversation[::-1]})
    assert status == 202, body
    assert body["imported"] == 4 and body["job_id"] is not None
    status, listed = await server.request("GET", f"/v1/agents/{agent['id']}/messages", params={"in_context": "false"})
    assert [m["content"] for m in listed["data"]] == [m["content"] for m in conversation]
    assert [m["created_at"] for m in listed["data"]] == [m["said_at"] for m in conversation]
    status, listed = await server.request("GET", f"/v1/agents/{agent['id']}/messages", params={"in_context": "true"})
    assert listed["data"] == []  # the voice agent's window is untouched

    jobs = await manager(server).wait_idle(agent["id"], timeout_s=30)
    assert [(j.kind, j.status) for j in jobs] == [("import", "done")]
    [request] = sleeptime_requests(server.fake)[:1]
    assert "being imported" in request["messages"][1]["content"]
    status, listed = await server.request("GET", f"/v1/agents/{agent['id']}/archival")
    assert [(p["synopsis"], p["start_at"], p["end_at"]) for p in listed["data"]] == [
        ("The user moved to Porto for a job at a wine exporter.", t0, t0 + 30),
        ("The user's cat Miso dislikes the new flat.", t0 + 90, t0 + 120)]
    status, block = await server.request("GET", f"/v1/agents/{agent['id']}/blocks/human")
    assert block["value"] == "Lives in Porto, works at a wine exporter. Cat: Miso."
    text = await server.app[MEMORY_SEARCH].search(agent["id"], "Where do I work?", {})
    assert "wine exporter" in text and "2 days ago" not in text

    # A session that ends later hands over its own lines only, never the imported ones again.
    server.fake.script([Text("Hello!")],
                       [store_call((0, 1, "The user said hello."))], [rethink_call("unchanged")], [finish_call()])
    await say(server, agent["id"], "Hello there.")
    await manager(server).session_ended(agent["id"])
    jobs = await manager(server).wait_idle(agent["id"], timeout_s=30)
    assert [j.kind for j in jobs] == ["import", "session_end"]
    last = sleeptime_requests(server.fake)[-3]["messages"][1]["content"]
    assert "Hello there." in last and "Porto" not in last


async def test_import_validation_and_access(tmp_path: Path, fake_openai: FakeOpenAIServer) -> None:
    running, runner = await start_server(tmp_path, fake_openai, api_key="sekrit")
    try:
        agent = await running.create_agent()
        url = f"/v1/agents/{agent['id']}/messages/import"
        ok = {"messages": [{"role": "user", "content": "I like tea.", "said_at": time.time() - DAY}],
              "archive": False}
        async with aiohttp.ClientSession() as s, s.post(running.url + url, json=ok) as r:
            assert r.status == 401
        bad = [{}, {"messages": []}, {"messages": [{"role": "tool", "content": "x", "said_at": 1.0}]},
               {"messages": [{"role": "user", "content": "x"}]},
               {"messages": [{"role": "user", "content": "x", "said_at": time.time() + 3600}]},
               {"messages": [{"role": "user", "content": "", "said_at": 1.0}]}]
        for body in bad:
            status, data = await running.request("POST", url, json=body)
            assert status == 400, (body, data)
        status, data = await running.request("POST", url, json=ok)
        assert status == 202 and data["job_id"] is None and data["imported"] == 1
    finally:
        await runner.cleanup()


async def test_a_long_import_is_handed_over_in_parts_the_sleeptime_model_can_take(server: Running) -> None:
    """Found from outside: a 400-line import was one sleeptime request; a model with an 8k window refused it (400
    context_length_exceeded), the job failed three times and nothing was archived. Now one job per part (at most
    IMPORT_PART_LINES lines and a share of the sleeptime model's context window), run in order."""
    agent = await create_voice_agent(server)
    t0 = time.time() - 30 * DAY
    conversation = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"line {i}: the weather was fine.",
                     "said_at": t0 + 60 * i} for i in range(2 * IMPORT_PART_LINES + 10)]
    parts = 3
    for k in range(parts):
        server.fake.script([store_call((0, 1, f"Part {k} of the old talk."))],
                           [rethink_call(f"The weather was fine, part {k}.")], [finish_call()])
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/messages/import",
                                        json={"messages": conversation})
    assert status == 202 and len(body["job_ids"]) == parts and body["job_id"] == body["job_ids"][0], body
    jobs = await manager(server).wait_idle(agent["id"], timeout_s=60)
    assert [(j.id, j.kind, j.status) for j in jobs] == [(i, "import", "done") for i in body["job_ids"]]
    firsts = [r["messages"][1]["content"] for r in sleeptime_requests(server.fake)
              if "being imported" in r["messages"][1]["content"] and len(r["messages"]) == 2]  # a run's first call
    assert len(firsts) == parts  # one run per part, each with its own lines only
    assert "line 0:" in firsts[0] and f"line {IMPORT_PART_LINES}:" in firsts[1] and "line 0:" not in firsts[1]
    status, listed = await server.request("GET", f"/v1/agents/{agent['id']}/archival")
    assert [(p["synopsis"], p["start_at"]) for p in listed["data"]] == [
        (f"Part {k} of the old talk.", t0 + 60 * IMPORT_PART_LINES * k) for k in range(parts)]


def test_import_parts_respect_the_token_budget_and_skip_empty_parts() -> None:
    rows = [Message(id=ids.message_id(), agent_id="a", role="user", content="word " * 100, seq=i + 1)
            for i in range(9)]
    rows.append(Message(id=ids.message_id(), agent_id="a", role="assistant", content="", seq=10))
    budget = 3 * estimate_tokens(rows[0])
    parts = import_parts(rows, budget_tokens=budget)
    assert [[m.seq for m in p.messages] for p in parts] == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]  # [10] says nothing
    assert all(p.chars is None for p in parts)
    assert [len(p.messages) for p in import_parts(rows[:1] * 130, budget_tokens=10**9)] == [60, 60, 10]


def test_a_message_over_the_budget_is_cut_into_pieces_that_cover_it() -> None:
    text = " ".join(f"Sentence number {i} is about the garden." for i in range(300))  # ~12,000 characters
    rows = [Message(id=ids.message_id(), agent_id="a", role="user", content="before", seq=1),
            Message(id=ids.message_id(), agent_id="a", role="user", content=text, seq=2),
            Message(id=ids.message_id(), agent_id="a", role="assistant", content="after", seq=3)]
    budget = 1000
    parts = import_parts(rows, budget_tokens=budget)
    assert [m.seq for m in parts[0].messages] == [1] and [m.seq for m in parts[-1].messages] == [3]
    pieces = parts[1:-1]
    assert len(pieces) >= 3 and all([m.seq for m in p.messages] == [2] and p.chars for p in pieces)
    assert "".join((p.lines()[0].content or "") for p in pieces) == text  # nothing lost, in order
    assert all(estimate_tokens(p.lines()[0]) <= budget for p in pieces)
    assert all((p.lines()[0].content or "").endswith("garden. ") for p in pieces[:-1])  # cut after a sentence
    # no sentence end, no space: still cut, still whole
    spans = split_text("x" * 25, 10)
    assert spans == [(0, 10), (10, 20), (20, 25)]
    words = "word " * 40
    assert all(words[a:b].endswith(" ") for a, b in split_text(words, 33)[:-1])


async def test_one_message_longer_than_a_run_is_archived_in_pieces(server: Running) -> None:
    """Found from outside: an import part is bounded by lines and tokens, but one message of up to 20,000
    characters (~5,000 tokens) alone is more than 40 % of an 8k window, and its job failed. It is handed over in
    pieces, one job each, and every character of it reaches the sleeptime model."""
    window = 8192
    agent = await create_voice_agent(server, sleeptime_llm=openai_llm(server.fake, model="fake-sleeptime",
                                                                      context_window=window))
    t0 = time.time() - 3 * DAY
    long_text = " ".join(f"Fact {i}: the blue door on Elm street number {i} was painted in spring."
                         for i in range(280))[:20_000]
    conversation = [{"role": "user", "content": "Let me tell you about the street.", "said_at": t0},
                    {"role": "user", "content": long_text, "said_at": t0 + 60},
                    {"role": "assistant", "content": "What a street!", "said_at": t0 + 120}]
    budget = int(window * IMPORT_PART_CONTEXT_SHARE)
    expected = len(import_parts([Message(id="m", agent_id="a", role="user", content=c["content"], seq=i)
                                 for i, c in enumerate(conversation)], budget_tokens=budget))
    assert expected >= 4  # the short line before, >= 2 pieces, the reply after
    for k in range(expected):
        server.fake.script([store_call((0, 0, f"Piece {k}."))], [rethink_call(f"Told me about the street, part {k}.")],
                           [finish_call()])
    status, body = await server.request("POST", f"/v1/agents/{agent['id']}/messages/import",
                                        json={"messages": conversation})
    assert status == 202 and body["imported"] == 3 and len(body["job_ids"]) == expected, body
    jobs = await manager(server).wait_idle(agent["id"], timeout_s=60)
    assert [(j.kind, j.status) for j in jobs] == [("import", "done")] * expected
    pieces = [j for j in jobs if j.payload.from_char is not None]
    assert len(pieces) == expected - 2 and {j.payload.older_from_seq for j in pieces} == {body["first_seq"] + 1}
    firsts = [r["messages"][1]["content"] for r in sleeptime_requests(server.fake)
              if "being imported" in r["messages"][1]["content"] and len(r["messages"]) == 2]
    assert len(firsts) == expected
    for request in firsts:  # each run's request fits the sleeptime model's window
        assert len(request) // 4 < budget + 500
    said = " ".join(_line_words(r) for r in firsts[1:-1])
    assert said == " ".join(long_text.split())  # every word of the long message, in order, once
    status, listed = await server.request("GET", f"/v1/agents/{agent['id']}/archival")
    assert [p["synopsis"] for p in listed["data"]] == [f"Piece {k}." for k in range(expected)]
    status, job = await server.request("GET", f"/v1/agents/{agent['id']}/memory/jobs")
    assert status == 200
    shown = [j for j in job["data"] if j["from_char"] is not None]
    assert [(j["from_char"], j["to_char"]) for j in shown][-1][1] == len(long_text)


def _line_words(request: str) -> str:
    """The words of the one numbered transcript line ("0. user: ...") of a run's request."""
    [line] = [ln for ln in request.splitlines() if ln.startswith("0. user: ")]
    return line.removeprefix("0. user: ")


async def test_lines_imported_without_archiving_are_archived_when_imported_again_with_it(server: Running) -> None:
    """``"archive": false`` first (searchable by keyword at once), the same export later with ``archive``: the lines
    no job archived get their import jobs then; lines an earlier job archived are not handed over again, and a third
    import of the same lines starts no job (QA, session 18: such lines could never be archived)."""
    agent = await create_voice_agent(server)
    path = f"/v1/agents/{agent['id']}/messages/import"
    t0 = time.time() - 30 * DAY

    def lines(first: int, said: list[str]) -> list[dict[str, object]]:
        return [{"role": "user" if i % 2 == 0 else "assistant", "content": text, "said_at": first + 60 * i}
                for i, text in enumerate(said)]

    quiet = lines(t0, ["My allotment is plot 14 at Ferry Lane.", "Nice, what are you growing?"])
    archived = lines(t0 + DAY, ["My sister Ines moved to Lisbon.", "Lovely city."])
    later = lines(t0 + 2 * DAY, ["The plot's water tap is broken again.", "Annoying!"])
    status, body = await server.request("POST", path, json={"messages": quiet, "archive": False})
    assert (status, body["imported"], body["job_ids"]) == (202, 2, []), body
    server.fake.script([store_call((0, 1, "The user's sister Ines moved to Lisbon."))],
                       [rethink_call("Sister Ines moved to Lisbon.")], [finish_call()])
    status, body = await server.request("POST", path, json={"messages": archived})
    assert (status, body["imported"], len(body["job_ids"])) == (202, 2, 1), body
    await manager(server).wait_idle(agent["id"], timeout_s=30)

    server.fake.script([store_call((0, 1, "The user's allotment is plot 14 at Ferry Lane."))],
                       [rethink_call("Allotment: plot 14 at Ferry Lane. Sister Ines moved to Lisbon.")],
                       [finish_call()],
                       [store_call((0, 1, "The water tap at the user's plot is broken."))],
                       [rethink_call("Allotment: plot 14 at Ferry Lane, water tap broken. Sister Ines in Lisbon.")],
                       [finish_call()])
    status, body = await server.request("POST", path, json={"messages": quiet + archived + later})
    assert (status, body["imported"], body["duplicates"], len(body["job_ids"])) == (202, 2, 4, 2), body
    status, jobs = await server.request("GET", f"/v1/agents/{agent['id']}/memory/jobs")
    ranges = {j["id"]: (j["older_from_seq"], j["older_through_seq"]) for j in jobs["data"]}
    status, stored = await server.request("GET", f"/v1/agents/{agent['id']}/messages", params={"in_context": "false"})
    seq = {m["content"]: m["seq"] for m in stored["data"]}
    assert [ranges[j] for j in body["job_ids"]] == [(seq[quiet[0]["content"]], seq[quiet[1]["content"]]),
                                                    (body["first_seq"], body["last_seq"])]
    done = await manager(server).wait_idle(agent["id"], timeout_s=30)
    assert [(j.kind, j.status) for j in done] == [("import", "done")] * 3
    status, listed = await server.request("GET", f"/v1/agents/{agent['id']}/archival")
    assert [(p["synopsis"], p["start_at"]) for p in listed["data"]] == [
        ("The user's sister Ines moved to Lisbon.", t0 + DAY),
        ("The user's allotment is plot 14 at Ferry Lane.", t0),
        ("The water tap at the user's plot is broken.", t0 + 2 * DAY)]
    # everything is archived now: the same export again stores nothing and starts no job
    status, body = await server.request("POST", path, json={"messages": quiet + archived + later})
    assert (status, body["imported"], body["duplicates"], body["job_ids"]) == (202, 0, 6, []), body
