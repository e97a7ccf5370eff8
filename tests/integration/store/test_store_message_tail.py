"""``load_message_tail``: the agent's user and assistant lines after a seq, in order; out-of-context ones with their
content and stored terms, in-context ones as bare markers (what the per-agent message index reads every search)."""

from __future__ import annotations

from typing import Any

from tests.integration.store.helpers import make_agent, msg
from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.messages import MessageIndex
from voice_letta.agent.recall.vector import SearchWindow


async def _tail(store: Any, index: MessageIndex) -> Any:
    return await store.load_message_tail(index.agent_id, after_seq=index.watermark, seen_through=index.seen_through)


async def test_the_tail_marks_what_is_in_context_and_carries_the_rest(store: Any, other: Any) -> None:
    agent = await make_agent(store)
    stranger = await make_agent(store, "bo")
    lines = [msg(agent.id, "user", "I adopted a beagle named Rex", at=100.0),
             msg(agent.id, "assistant", None, at=101.0),  # a tool call with no words
             msg(agent.id, "tool", "ok", at=102.0),
             msg(agent.id, "assistant", "Rex is a great name", at=103.0),
             msg(agent.id, "user", "Let's talk about dinner", at=104.0)]
    stored = await store.append_messages(lines)
    await store.append_messages([msg(stranger.id, "user", "Rex? I have a cat", at=100.0)])
    assert await store.evict_messages(agent.id, through_seq=stored[3].seq) == 4
    tail = await other.load_message_tail(agent.id, after_seq=0)
    assert tail.ids == (stored[0].id, stored[1].id, stored[3].id, stored[4].id)  # no tool rows, no other agent
    assert tail.in_context == (False, False, False, True)
    assert tail.contents == ("I adopted a beagle named Rex", "", "Rex is a great name", "")
    assert tail.roles == ("user", "assistant", "assistant", "user")
    assert tail.created_at[0] == 100.0 and tail.seqs == tuple(m.seq for m in (stored[0], stored[1], stored[3],
                                                                             stored[4]))
    first = T.decode_terms(tail.terms[0])
    assert first is not None and first.tolist() == T.term_ids("I adopted a beagle named Rex")
    assert tail.terms[3] is None  # in context: not read
    later = await store.load_message_tail(agent.id, after_seq=stored[3].seq)
    assert later.ids == (stored[4].id,)


async def test_an_index_follows_evictions_and_imports_through_the_tail(store: Any) -> None:
    agent = await make_agent(store)
    index = MessageIndex(agent.id)
    first = await store.append_messages([msg(agent.id, "user", f"line {i} about topic{i}", at=10.0 + i)
                                         for i in range(4)])
    await store.evict_messages(agent.id, through_seq=first[1].seq)
    assert index.update(await _tail(store, index)) == 2
    assert index.watermark == first[1].seq
    # An import lands out of context above lines still in context; then the live lines are evicted.
    imported = await store.append_messages([msg(agent.id, "user", "imported talk about kayaks", at=5.0,
                                                in_context=False, kind="imported")])
    assert index.update(await _tail(store, index)) == 1
    assert index.watermark == first[1].seq  # line 2 is still in context
    again = await _tail(store, index)
    assert imported[0].id not in again.ids and index.update(again) == 0  # an indexed import is not read again
    await store.evict_messages(agent.id, through_seq=imported[0].seq)
    assert index.update(await _tail(store, index)) == 2
    assert index.watermark == imported[0].seq and index.size == 5
    [hit] = index.search(["kayaks"], SearchWindow(None, None), limit=5)
    assert hit.message.id == imported[0].id and hit.message.in_context is False
    assert [h.message.content for h in index.search(["topic3", "topic0"], SearchWindow(12.5, None), limit=5)] == [
        "line 3 about topic3"]  # the window is when a line was said
