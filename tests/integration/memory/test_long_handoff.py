"""A live message too long for one sleeptime run (said in a chat turn, handed over at eviction) reaches the
sleeptime model whole, in pieces, each a job with its character range, as an import's does (agent/imports.py)."""

from __future__ import annotations

import itertools
import time

from tests.fakes.openai_server import Text
from tests.integration.agent.conftest import Running, openai_llm
from tests.integration.memory.conftest import (
    create_voice_agent,
    finish_call,
    manager,
    rethink_call,
    say,
    sleeptime_requests,
    store_call,
)
from voice_letta.agent.imports import IMPORT_PART_CONTEXT_SHARE, handoff_parts
from voice_letta.agent.ports import HandoffRange


async def test_an_over_long_live_message_is_handed_over_in_pieces_at_eviction(server: Running) -> None:
    """Found from outside: only imports were cut; one dictated message of ~20,000 characters (~5,000 tokens) in a
    chat turn went to an 8k sleeptime model as one run when it was evicted, and the run could not take it."""
    window = 8192
    agent = await create_voice_agent(server, sleeptime_llm=openai_llm(server.fake, model="fake-sleeptime",
                                                                      context_window=window))
    long_text = " ".join(f"Note {i}: the shed key {i} hangs on hook {i} by the back door." for i in range(330))
    assert len(long_text) > 18_000
    server.fake.script([Text("Got all of that.")])
    await say(server, agent["id"], long_text)
    for k in range(2):
        server.fake.script([Text(f"Reply {k}.")])
        await say(server, agent["id"], f"Short line {k}.")
    # 8 messages > max 6 after the next turn: the cut walks forward to a user line, the first four are evicted
    older = (await server.store.list_messages(agent["id"]))[:4]
    budget = int(window * IMPORT_PART_CONTEXT_SHARE)
    parts = handoff_parts(older, budget_tokens=budget)
    assert len(parts) >= 3 and parts[-1].chars is None  # >= 2 pieces, then the reply
    server.fake.script([Text("Reply 2.")])
    for k in range(len(parts)):
        server.fake.script([store_call((0, 0, f"Piece {k}."))], [rethink_call(f"Shed key notes, line {k}.")],
                           [finish_call()])
    await say(server, agent["id"], "Short line 2.")  # 8 messages > 6: the first two are evicted
    jobs = await manager(server).wait_idle(agent["id"], timeout_s=60)
    assert [(j.kind, j.status) for j in jobs] == [("eviction", "done")] * len(parts)
    pieces = [j.payload for j in jobs if j.payload.from_char is not None]
    assert [(p.from_char, p.to_char) for p in pieces] == [p.chars for p in parts[:-1]]
    assert pieces[0].from_char == 0 and pieces[-1].to_char == len(long_text)
    assert all(a.to_char == b.from_char for a, b in itertools.pairwise(pieces))  # contiguous
    assert {p.older_from_seq for p in pieces} == {older[0].seq}
    # only the last job moves the watermark and evicts: a crash between the enqueues loses nothing
    # Only the last job evicts and moves the watermark past the hand-off; a piece before the end of its message
    # leaves it before that message: a crash between two enqueues loses nothing and hands nothing over twice.
    assert [j.through_seq for j in jobs] == [older[0].seq - 1] * (len(parts) - 2) + [older[0].seq, older[-1].seq]
    evicted = await server.store.list_messages(agent["id"], in_context=False)
    assert [m.seq for m in evicted] == [m.seq for m in older]
    firsts = [r["messages"][1]["content"] for r in sleeptime_requests(server.fake) if len(r["messages"]) == 2]
    assert len(firsts) == len(parts)
    for request in firsts:  # each run's request fits the sleeptime model's window
        assert len(request) // 4 < budget + 1500
    said = " ".join(_line_words(r) for r in firsts[:-1])
    assert said == " ".join(long_text.split())  # every word of the long message, in order, once
    status, listed = await server.request("GET", f"/v1/agents/{agent['id']}/archival")
    assert status == 200 and [p["synopsis"] for p in listed["data"]] == [f"Piece {k}." for k in range(len(parts))]
    status, body = await server.request("GET", f"/v1/agents/{agent['id']}/memory/jobs")
    assert status == 200
    shown = sorted((j["from_char"], j["to_char"]) for j in body["data"] if j["from_char"] is not None)
    assert shown == [p.chars for p in parts[:-1]]


def _line_words(request: str) -> str:
    """The words of the one numbered transcript line ("0. user: ...") of a run's request."""
    [line] = [ln for ln in request.splitlines() if ln.startswith("0. user: ")]
    return line.removeprefix("0. user: ")


async def test_pieces_enqueued_before_a_crash_are_not_handed_over_twice(server: Running) -> None:
    """A process that died after enqueuing the first piece of a long message (and before evicting) left the
    watermark before that message: the next eviction plans the same hand-off again and skips the piece it finds."""
    window = 8192
    agent = await create_voice_agent(server, sleeptime_llm=openai_llm(server.fake, model="fake-sleeptime",
                                                                      context_window=window))
    long_text = " ".join(f"Item {i}: box {i} of the attic holds {i} winter coats." for i in range(400))
    server.fake.script([Text("Noted.")])
    await say(server, agent["id"], long_text)
    for k in range(2):
        server.fake.script([Text(f"Reply {k}.")])
        await say(server, agent["id"], f"Short line {k}.")
    older = (await server.store.list_messages(agent["id"]))[:4]
    parts = handoff_parts(older, budget_tokens=int(window * IMPORT_PART_CONTEXT_SHARE))
    first = parts[0].chars
    assert first is not None
    await server.store.enqueue_memory_job(  # what the dead process enqueued
        agent["id"], "eviction", HandoffRange(older[0].seq, older[0].seq, from_char=first[0], to_char=first[1]),
        through_seq=older[0].seq - 1, now=time.time())
    server.fake.script([Text("Reply 2.")])
    for k in range(len(parts)):
        server.fake.script([store_call((0, 0, f"Piece {k}."))], [rethink_call(f"Shed key notes, line {k}.")],
                           [finish_call()])
    await say(server, agent["id"], "Short line 2.")
    jobs = await manager(server).wait_idle(agent["id"], timeout_s=60)
    assert [(j.payload.from_char, j.payload.to_char) for j in jobs] == [p.chars or (None, None) for p in parts]
    assert all(j.status == "done" for j in jobs)
