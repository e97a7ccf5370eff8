"""Turn records and the agent lease: begin_turn / end_turn / renew / release, across two connections."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tests.integration.store.helpers import make_agent, msg
from voice_letta import ids
from voice_letta.agent.models import Message, Passage, ToolCall, TurnRecord
from voice_letta.agent.ports import HandoffRange
from voice_letta.store import SqliteStore

T0 = 1_700_000_000.0


def turn(agent_id: str, fingerprint: str | None = None) -> TurnRecord:
    return TurnRecord(id=ids.turn_id(), agent_id=agent_id, fingerprint=fingerprint)


async def test_begin_stores_the_turn_record_with_its_input_and_returns_the_history(store: SqliteStore) -> None:
    agent = await make_agent(store)
    await store.append_messages([msg(agent.id, "user", "earlier"), msg(agent.id, "assistant", "reply")])
    t = turn(agent.id, "fp-1")
    begun = await store.begin_turn(t, [msg(agent.id, "user", "hello", turn_id=t.id)], holder="a", lease_s=10,
                                   now=time.time())
    assert begun is not None and begun.previous is None
    assert [m.seq for m in begun.inserted] == [3]
    assert [m.content for m in begun.history] == ["earlier", "reply", "hello"]
    assert (await store.find_turn(agent.id, "fp-1")) == t  # written with the input, before any reply


async def test_a_busy_lease_keeps_every_other_holder_out_until_it_is_given_back(
    store: SqliteStore, other: SqliteStore,
) -> None:
    agent = await make_agent(store)
    now = time.time()
    first = await store.begin_turn(turn(agent.id), [msg(agent.id, "user", "one")], holder="a", lease_s=10, now=now)
    assert first is not None
    second_turn = turn(agent.id)
    assert await other.begin_turn(second_turn, [msg(agent.id, "user", "two")], holder="b", lease_s=10,
                                  now=now) is None
    assert [m.content for m in await other.list_messages(agent.id)] == ["one"]  # nothing written by the refusal
    assert await other.find_turn(agent.id, "x") is None
    stored = await store.end_turn(agent.id, None, [msg(agent.id, "assistant", "answer")], holder="a",
                                  lease=first.lease)
    assert [m.seq for m in stored] == [2]
    second = await other.begin_turn(second_turn, [msg(agent.id, "user", "two")], holder="b", lease_s=10, now=now)
    assert second is not None and second.lease == first.lease + 1
    assert [m.content for m in second.history] == ["one", "answer", "two"]


async def test_the_same_holder_cannot_run_two_turns_of_one_agent_at_once(store: SqliteStore) -> None:
    agent = await make_agent(store)
    now = time.time()
    assert await store.begin_turn(turn(agent.id), [], holder="a", lease_s=10, now=now) is not None
    assert await store.begin_turn(turn(agent.id), [], holder="a", lease_s=10, now=now) is None


async def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_release_the_new_one(
    store: SqliteStore, other: SqliteStore,
) -> None:
    agent = await make_agent(store)
    now = time.time()
    dead = await store.begin_turn(turn(agent.id), [], holder="dead", lease_s=1, now=now)
    assert dead is not None
    assert await other.begin_turn(turn(agent.id), [], holder="b", lease_s=10, now=now + 0.5) is None
    taken = await other.begin_turn(turn(agent.id), [], holder="b", lease_s=10, now=now + 1.5)
    assert taken is not None
    # The late holder's reply is still stored (nothing accepted is lost) but the lease stays with b.
    await store.end_turn(agent.id, None, [msg(agent.id, "assistant", "late")], holder="dead", lease=dead.lease)
    assert await store.begin_turn(turn(agent.id), [], holder="c", lease_s=10, now=now + 2) is None
    await other.release_agent(agent.id, holder="b", lease=taken.lease)
    assert await store.begin_turn(turn(agent.id), [], holder="c", lease_s=10, now=now + 2) is not None


async def test_renewing_keeps_a_long_turn_s_lease_and_release_holder_frees_a_dead_worker_s(
    store: SqliteStore, other: SqliteStore,
) -> None:
    a, b = await make_agent(store, "a"), await make_agent(store, "b")
    now = time.time()
    assert await store.begin_turn(turn(a.id), [], holder="w1", lease_s=1, now=now) is not None
    assert await store.begin_turn(turn(b.id), [], holder="w1", lease_s=1, now=now) is not None
    assert await store.renew_leases("w1", until=now + 60) == 2
    assert await other.begin_turn(turn(a.id), [], holder="w2", lease_s=1, now=now + 30) is None
    assert await other.release_holder("w1", now=now + 30) == 2
    assert await other.begin_turn(turn(a.id), [], holder="w2", lease_s=1, now=now + 30) is not None
    assert await other.begin_turn(turn(b.id), [], holder="w2", lease_s=1, now=now + 30) is not None
    assert await store.renew_leases("w1", until=now + 90) == 0


async def test_a_known_fingerprint_returns_the_earlier_turn_and_stores_nothing(store: SqliteStore) -> None:
    agent = await make_agent(store)
    first = turn(agent.id, "same")
    begun = await store.begin_turn(first, [msg(agent.id, "user", "hi", turn_id=first.id)], holder="a",
                                   lease_s=10, now=time.time())
    assert begun is not None
    done = first.model_copy(update={"ended_at": time.time(), "stop_reason": "stop"})
    await store.end_turn(agent.id, done, [msg(agent.id, "assistant", "hello")], holder="a", lease=begun.lease)
    again = await store.begin_turn(turn(agent.id, "same"), [msg(agent.id, "user", "hi")], holder="a",
                                   lease_s=10, now=time.time())
    assert again is not None and again.previous == done and again.inserted == []
    assert [m.content for m in await store.list_messages(agent.id)] == ["hi", "hello"]


async def test_every_field_of_the_rows_and_the_turn_record_survives_begin_and_end(store: SqliteStore) -> None:
    """PostgreSQL sends these rows to its server-side functions as JSON (migration 0005): nothing may be lost or
    rounded on the way (floats, tool calls, images, flags, keyword terms)."""
    from voice_letta.agent.models import ImagePart, ToolCall, Usage

    agent = await make_agent(store)
    at = 1_765_000_000.123456789
    t = TurnRecord(id=ids.turn_id(), agent_id=agent.id, fingerprint="fp", idempotency_key="key-1", started_at=at)
    user = msg(agent.id, "user", "look at this, Ada", at=at, turn_id=t.id, kind="normal",
               images=[ImagePart(url="https://example.com/a.png", detail="low")])
    begun = await store.begin_turn(t, [user], holder="a", lease_s=10, now=at + 0.5)
    assert begun is not None and begun.previous is None
    assert begun.inserted == [user.model_copy(update={"seq": 1})] == begun.history
    call = ToolCall(id="call_1", name="search_memory", arguments='{"query": "pictures \\u00e9"}')
    reply = [
        msg(agent.id, "assistant", None, at=at + 1 / 3, turn_id=t.id, tool_calls=[call]),
        msg(agent.id, "tool", '{"ok": true}', at=at + 0.4, turn_id=t.id, tool_call_id="call_1",
            name="search_memory"),
        msg(agent.id, "assistant", "A cat, I think", at=at + 0.7, turn_id=t.id, interrupted=True, kind="filler"),
    ]
    done = t.model_copy(update={
        "status": "completed", "stop_reason": "stop", "ended_at": at + 0.75, "steps": 2, "provider": "openai",
        "model": "gpt-x", "fallback_used": True, "first_token_ms": 12.345678901234,
        "usage": Usage(prompt_tokens=10, completion_tokens=3, total_tokens=13, cached_tokens=4, estimated=True),
        "timings_ms": {"llm_first_token": 12.345678901234, "total": 750.0}})
    stored = await store.end_turn(agent.id, done, reply, holder="a", lease=begun.lease)
    assert stored == [m.model_copy(update={"seq": i}) for i, m in enumerate(reply, 2)]
    assert await store.list_messages(agent.id) == [begun.inserted[0], *stored]
    assert (await store.list_turns(agent.id)) == [done]
    again = await store.begin_turn(t.model_copy(update={"id": ids.turn_id()}), [user], holder="a", lease_s=10,
                                   now=at + 1)
    assert again is not None and again.previous == done and again.inserted == []
    assert await store.search_messages(agent.id, "cat") == []  # in context: not searched
    await store.release_agent(agent.id, holder="a", lease=again.lease)
    await store.evict_messages(agent.id, through_seq=stored[-1].seq)
    hits = await store.search_messages(agent.id, "cat")
    assert [h.message.id for h in hits] == [reply[2].id]  # indexed once it left the context



async def test_the_history_a_turn_begins_with_is_every_in_context_row_exactly(store: SqliteStore) -> None:
    """SQLite reads the history as one JSON document (one step of SQLite instead of one per row): every value must
    come back as stored: times to the last bit (SQLite's JSON writes a REAL with 15 digits), quotes, the ASCII record
    separator (SQLite's history joins rows with it),
    backslashes, line separators, text that looks like JSON, tool calls; evicted rows left out; seq order."""
    from voice_letta.agent.models import ImagePart, ToolCall

    agent = await make_agent(store)
    rng = random.Random(7)
    texts = ["", 'a "quote" and a \\ backslash', "line\nbreak\ttab\r", "🎙️ é ß 中文 \u2028\u2029",
             "[1, 2]", "null", '{"role": "system"}', "x" * 3000, "nul \x00 inside (stored as U+FFFD)",
             "record \x1e separator \x1f unit"]
    rows = []
    for i in range(70):
        at = rng.choice([1_765_000_000 + rng.random() * 1e6, float(1_765_000_000 + i), rng.random(), 1e-7 * (i + 1)])
        if i % 11 == 5:
            images = [ImagePart(url=f"https://example.com/{i}.png", detail="low"),
                      ImagePart(url="data:image/png;base64,AAAA")]
            rows.append(msg(agent.id, "user", rng.choice(texts), at=at, images=images))
        elif i % 13 == 4:
            rows.append(msg(agent.id, "tool", '{"ok": true, "n": 1e400}', at=at, tool_call_id=f"call_{i}",
                            name="weather.get"))
        elif i % 7 == 3:
            call = ToolCall(id=f"call_{i}", name="search_memory", arguments='{"query": "caf\\u00e9 \\" x"}')
            rows.append(msg(agent.id, "assistant", None, at=at, tool_calls=[call], turn_id=f"t{i}"))
        else:
            rows.append(msg(agent.id, rng.choice(["user", "assistant"]), rng.choice(texts) + str(i), at=at,
                            interrupted=rng.random() < 0.2, kind=rng.choice(["normal", "filler", "greeting"])))
    stored = await store.append_messages(rows)
    await store.evict_messages(agent.id, through_seq=stored[9].seq)
    t = turn(agent.id)
    now = time.time()
    user = msg(agent.id, "user", "and now?", at=now, turn_id=t.id)
    begun = await store.begin_turn(t, [user], holder="a", lease_s=10, now=now)
    assert begun is not None
    expected = [m.model_copy(update={"in_context": True}) for m in stored[10:]] + begun.inserted
    assert begun.history == expected == await store.list_messages(agent.id, in_context=True)
    assert [m.created_at for m in begun.history] == [m.created_at for m in [*rows[10:], user]]  # bit for bit
    assert [m.seq for m in begun.history] == sorted(m.seq for m in begun.history)
    await store.release_agent(agent.id, holder="a", lease=begun.lease)


async def test_the_latest_turn_is_the_one_that_ran_last_not_the_one_that_arrived_last(
    store: SqliteStore, other: SqliteStore,
) -> None:
    """Found from outside (serve --workers 2, a worker killed mid-stream): of two concurrent requests, the one that
    arrived first ran second and was cut; its re-send (same messages, no key) was not recognised as a retry because
    the other turn had the later started_at, and the user's words were stored twice."""
    agent = await make_agent(store)
    now = time.time()
    early = TurnRecord(id=ids.turn_id(), agent_id=agent.id, fingerprint="early", started_at=now - 1.0)
    late = TurnRecord(id=ids.turn_id(), agent_id=agent.id, fingerprint="late", started_at=now - 0.5)
    first = await store.begin_turn(late, [msg(agent.id, "user", "late", turn_id=late.id)], holder="w1",
                                   lease_s=10, now=now)
    assert first is not None
    done = late.model_copy(update={"status": "completed", "stop_reason": "stop", "ended_at": now})
    await store.end_turn(agent.id, done, [msg(agent.id, "assistant", "reply")], holder="w1", lease=first.lease)
    cut = await store.begin_turn(early, [msg(agent.id, "user", "early", turn_id=early.id)], holder="w1",
                                 lease_s=10, now=now + 0.1)
    assert cut is not None
    assert await other.release_holder("w1", now=now + 0.2) == 1  # the worker died mid-turn
    resent = TurnRecord(id=ids.turn_id(), agent_id=agent.id, fingerprint="early", started_at=now + 0.3)
    again = await other.begin_turn(resent, [msg(agent.id, "user", "early")], holder="w2", lease_s=10, now=now + 0.3)
    assert again is not None and again.previous is not None and again.previous.id == early.id
    assert again.inserted == []
    assert [m.content for m in await other.list_messages(agent.id) if m.role == "user"] == ["late", "early"]


async def _ran(store: SqliteStore, agent_id: str, fingerprint: str, text: str, now: float) -> TurnRecord:
    """A whole turn of another request of the agent: begun, answered, completed."""
    t = TurnRecord(id=ids.turn_id(), agent_id=agent_id, fingerprint=fingerprint, started_at=now)
    begun = await store.begin_turn(t, [msg(agent_id, "user", text, turn_id=t.id)], holder="w2", lease_s=10, now=now)
    assert begun is not None and begun.previous is None
    done = t.model_copy(update={"status": "completed", "stop_reason": "stop", "ended_at": now + 0.01})
    await store.end_turn(agent_id, done, [msg(agent_id, "assistant", f"re: {text}", turn_id=t.id)], holder="w2",
                         lease=begun.lease)
    return done


async def test_a_resend_of_a_turn_that_never_completed_is_its_retry_even_after_other_turns_ran(
    store: SqliteStore, other: SqliteStore,
) -> None:
    """Found from outside (a storm of key-less requests, a worker killed): the openai SDK's re-send of a cut request
    waited behind other requests to the same agent, was no longer the latest turn and stored the words again."""
    agent = await make_agent(store)
    now = time.time()
    cut = TurnRecord(id=ids.turn_id(), agent_id=agent.id, fingerprint="number 3", started_at=now)
    begun = await store.begin_turn(cut, [msg(agent.id, "user", "number 3", turn_id=cut.id)], holder="w1",
                                   lease_s=10, now=now)
    assert begun is not None
    assert await other.release_holder("w1", now=now + 0.1) == 1  # its worker died mid-turn: left 'running'
    await _ran(other, agent.id, "number 13", "number 13", now + 0.2)
    await _ran(other, agent.id, "number 23", "number 23", now + 0.3)
    resent = TurnRecord(id=ids.turn_id(), agent_id=agent.id, fingerprint="number 3", started_at=now + 0.4)
    again = await other.begin_turn(resent, [msg(agent.id, "user", "number 3")], holder="w2", lease_s=10,
                                   now=now + 0.4)
    assert again is not None and again.previous is not None and again.previous.id == cut.id
    assert again.inserted == []
    assert [m.content for m in again.history if m.role == "user"] == ["number 3", "number 13", "number 23"]
    await other.release_agent(agent.id, holder="w2", lease=again.lease)
    # the same for a turn that failed (its reply is the fallback line), and one cut after some output
    for status, error, said in (("failed", "provider_error: down", "Sorry."), ("cancelled", "cancelled", "Wel")):
        t = TurnRecord(id=ids.turn_id(), agent_id=agent.id, fingerprint=status, started_at=now + 0.5)
        b = await other.begin_turn(t, [msg(agent.id, "user", status, turn_id=t.id)], holder="w2", lease_s=10,
                                   now=now + 0.5)
        assert b is not None
        ended = t.model_copy(update={"status": status, "error": error, "ended_at": now + 0.6})
        await other.end_turn(agent.id, ended, [msg(agent.id, "assistant", said, turn_id=t.id)], holder="w2",
                             lease=b.lease)
        await _ran(other, agent.id, f"after {status}", f"after {status}", now + 0.7)
        r = await store.begin_turn(TurnRecord(id=ids.turn_id(), agent_id=agent.id, fingerprint=status),
                                   [msg(agent.id, "user", status)], holder="w1", lease_s=10, now=now + 0.8)
        assert r is not None and r.previous is not None and r.previous.id == t.id and r.inserted == []
        await store.release_agent(agent.id, holder="w1", lease=r.lease)
    assert [m.content for m in await store.list_messages(agent.id) if m.role == "user"] == [
        "number 3", "number 13", "number 23", "failed", "after failed", "cancelled", "after cancelled"]


async def test_of_several_earlier_turns_with_the_same_words_the_newest_decides_the_retry(
    store: SqliteStore, other: SqliteStore,
) -> None:
    """The same words said twice in the retry window: the first time answered, the second cut (its worker died).
    Their re-send is the retry of the cut one, the newest; the answered one, older, must not hide it."""
    agent = await make_agent(store)
    now = time.time()
    await _ran(other, agent.id, "yes please", "yes please", now)
    await _ran(other, agent.id, "more tea?", "more tea?", now + 0.05)
    cut = TurnRecord(id=ids.turn_id(), agent_id=agent.id, fingerprint="yes please", started_at=now + 0.1)
    begun = await store.begin_turn(cut, [msg(agent.id, "user", "yes please", turn_id=cut.id)], holder="w1",
                                   lease_s=10, now=now + 0.1)
    assert begun is not None and begun.previous is None  # answered, and not the latest: said anew
    assert await other.release_holder("w1", now=now + 0.2) == 1
    await _ran(other, agent.id, "and then?", "and then?", now + 0.3)
    resent = TurnRecord(id=ids.turn_id(), agent_id=agent.id, fingerprint="yes please", started_at=now + 0.4)
    again = await other.begin_turn(resent, [msg(agent.id, "user", "yes please")], holder="w2", lease_s=10,
                                   now=now + 0.4)
    assert again is not None and again.previous is not None and again.previous.id == cut.id
    assert again.inserted == []


async def test_an_earlier_turn_is_not_retried_when_it_completed_is_too_old_or_its_words_are_gone(
    store: SqliteStore,
) -> None:
    """Only a turn that never completed, within the retry window, with its input still in context: a caller saying
    the same words again after other turns ran is answered anew."""
    agent = await make_agent(store)
    now = time.time()
    await _ran(store, agent.id, "same words", "same words", now)  # completed: a new turn, not a replay
    await _ran(store, agent.id, "other", "other", now + 0.1)
    # failed, but longer ago than the retry window
    old = TurnRecord(id=ids.turn_id(), agent_id=agent.id, fingerprint="old", started_at=now - 700)
    b = await store.begin_turn(old, [msg(agent.id, "user", "old", turn_id=old.id)], holder="w1", lease_s=10,
                               now=now + 0.2)
    assert b is not None
    await store.end_turn(agent.id, old.model_copy(update={"status": "failed", "error": "x", "ended_at": now}), [],
                         holder="w1", lease=b.lease)
    # abandoned, and its words were replaced by the next request's (preemptive generation)
    interim = TurnRecord(id=ids.turn_id(), agent_id=agent.id, fingerprint="interim", started_at=now + 0.3)
    b = await store.begin_turn(interim, [msg(agent.id, "user", "What's the wea", turn_id=interim.id)],
                               holder="w1", lease_s=10, now=now + 0.3)
    assert b is not None
    await store.end_turn(agent.id, interim.model_copy(update={"status": "abandoned", "error": "cancelled",
                                                              "ended_at": now + 0.35}), [], holder="w1", lease=b.lease)
    final = TurnRecord(id=ids.turn_id(), agent_id=agent.id, fingerprint="final", started_at=now + 0.4)
    b = await store.begin_turn(final, [msg(agent.id, "user", "What's the weather?", turn_id=final.id)],
                               holder="w1", lease_s=10, now=now + 0.4, supersede_abandoned=True)
    assert b is not None
    await store.release_agent(agent.id, holder="w1", lease=b.lease)
    for fingerprint in ("same words", "old", "interim"):
        t = TurnRecord(id=ids.turn_id(), agent_id=agent.id, fingerprint=fingerprint)
        r = await store.begin_turn(t, [msg(agent.id, "user", fingerprint, turn_id=t.id)], holder="w1", lease_s=10,
                                   now=now + 1)
        assert r is not None and r.previous is None, fingerprint
        assert [m.content for m in r.inserted] == [fingerprint]
        await store.release_agent(agent.id, holder="w1", lease=r.lease)


async def test_a_tool_s_output_holding_nul_is_stored_with_its_place_marked_and_the_lease_given_back(
        store: SqliteStore) -> None:
    """PostgreSQL cannot store NUL in text (end_turn failed there, reply and all); every backend stores U+FFFD."""
    agent = await make_agent(store)
    call = ToolCall(id=ids.tool_call_id(), name="read_file", arguments="{}")
    t = turn(agent.id)
    begun = await store.begin_turn(t, [msg(agent.id, "user", "read it")], holder="a", lease_s=10, now=time.time())
    assert begun is not None
    ended = await store.end_turn(agent.id, t, [msg(agent.id, "assistant", None, tool_calls=[call]),
                                               msg(agent.id, "tool", "PK\x03\x04\x00\x00ok", tool_call_id=call.id),
                                               msg(agent.id, "assistant", "It\x00 is a zip.")],
                                 holder="a", lease=begun.lease)
    stored = await store.list_messages(agent.id)
    assert [m.content for m in stored] == ["read it", None, "PK\x03\x04\ufffd\ufffdok", "It\ufffd is a zip."]
    assert ended == stored[1:]  # what end_turn returns is what it stored
    assert await store.begin_turn(turn(agent.id), [], holder="b", lease_s=10, now=time.time()) is not None
    fixed = await store.update_message((await store.list_messages(agent.id))[-1].id, content="It is\x00 a zip.")
    assert fixed.content == "It is\ufffd a zip."
    await store.insert_passages([Passage(id=ids.passage_id(), agent_id=agent.id, text="a\x00b",
                                         synopsis="c\x00")])
    assert [(x.text, x.synopsis) for x in await store.list_passages(agent.id)] == [("a\ufffdb", "c\ufffd")]


async def test_the_next_turn_s_history_shows_every_change_made_between_turns(store: SqliteStore) -> None:
    """SQLite keeps the rows of an agent's last history decoded (HistoryRows): a row that changed in any field
    (edited, cut short, evicted) comes back changed, new rows come in, and an unchanged row is the same again."""
    agent = await make_agent(store)
    stored = await store.append_messages([msg(agent.id, "user", f"line {i}", at=T0 + i) for i in range(6)])

    async def history() -> list[Message]:
        begun = await store.begin_turn(turn(agent.id), [], holder="a", lease_s=10, now=time.time())
        assert begun is not None
        await store.release_agent(agent.id, holder="a", lease=begun.lease)
        assert begun.history == await store.list_messages(agent.id, in_context=True)
        return begun.history

    first = await history()
    await store.update_message(stored[2].id, content="line 2, edited")
    await store.update_message(stored[3].id, interrupted=True)
    await store.evict_messages(agent.id, through_seq=stored[0].seq)
    await store.append_messages([msg(agent.id, "assistant", "new", at=T0 + 9)])
    second = await history()
    assert [(m.content, m.interrupted) for m in second] == [
        ("line 1", False), ("line 2, edited", False), ("line 3", True), ("line 4", False), ("line 5", False),
        ("new", False)]
    if isinstance(store, SqliteStore):
        assert second[0] is first[1] and second[3] is first[4]  # unchanged rows are not decoded again
    await store.evict_messages(agent.id, through_seq=stored[-1].seq + 1)
    assert await history() == []


async def test_every_turn_begins_with_the_window_as_stored_whatever_changed_it_between_turns(
    store: SqliteStore, other: SqliteStore,
) -> None:
    """A store may keep the window its last turn of an agent ended with, instead of reading it back (SQLite:
    ``messages_version``, migration 0018): every turn must still begin with the window as stored, whoever changed
    it, before a turn or while it ran (this process or another: an edit, a cut-short reply, an eviction, appended or
    imported rows, a dropped abandoned input, a turn that lost its lease) and however the turn ended."""
    agent = await make_agent(store)
    reads: list[str] = []
    if isinstance(store, SqliteStore):  # the window read back (windows.HISTORY_JSON), to see the known one taken
        await store._db.set_trace_callback(lambda sql: reads.append(sql) if "group_concat(json_object" in sql else None)
    else:  # PostgreSQL: vl_begin_turn sent the window back (window_known false)
        fetch = store._fetch

        async def traced(action: str, sql: str, *args: object) -> list[Any]:
            found = await fetch(action, sql, *args)
            if action == "begin_turn" and found and not found[0]["window_known"]:
                reads.append(action)
            return found

        store._fetch = traced
    turns = 0

    async def run_turn(s: SqliteStore, k: int, *, end: bool = True, supersede: bool = False, tools: bool = False,
                       during: Callable[[list[Message]], Awaitable[object]] | None = None) -> list[Message]:
        nonlocal turns
        turns += 1
        t = turn(agent.id, f"fp-{k}")
        rows = [msg(agent.id, "user", f"question {k}", turn_id=t.id)]
        begun = await s.begin_turn(t, rows, holder=f"h{k}", lease_s=10, now=time.time(),
                                   supersede_abandoned=supersede)
        assert begun is not None
        assert begun.history == await other.list_messages(agent.id, in_context=True), k
        if during is not None:
            await during(begun.history)
        if not end:
            await s.release_agent(agent.id, holder=f"h{k}", lease=begun.lease)
            return begun.history
        reply = [msg(agent.id, "assistant", f"answer {k}", turn_id=t.id)]
        if tools:
            reply = [Message(id=ids.message_id(), agent_id=agent.id, role="assistant", content="One moment.",
                             turn_id=t.id, tool_calls=[ToolCall(id=f"c{k}", name="look", arguments='{"q": 1}')]),
                     Message(id=ids.message_id(), agent_id=agent.id, role="tool", content="found\x00",
                             tool_call_id=f"c{k}", turn_id=t.id), *reply]
        t.status, t.ended_at = "completed", time.time()
        stored = await s.end_turn(agent.id, t, reply, holder=f"h{k}", lease=begun.lease)
        return [*begun.history, *stored]

    async def abandoned(writer: SqliteStore, k: int) -> None:
        t = turn(agent.id, f"gone-{k}")
        begun = await writer.begin_turn(t, [msg(agent.id, "user", f"never answered {k}", turn_id=t.id)],
                                        holder="x", lease_s=10, now=time.time())
        assert begun is not None
        t.status, t.ended_at = "abandoned", time.time()
        await writer.end_turn(agent.id, t, [], holder="x", lease=begun.lease)

    for k in range(120):
        writer = store if k % 20 < 10 else other
        mid = k % 40 >= 20  # the change lands while the next turn runs (between its begin and its end)
        change = k % 10
        window = await store.list_messages(agent.id, in_context=True)

        async def act(window: list[Message], change: int = change, writer: SqliteStore = writer, k: int = k) -> None:
            if change == 0 and len(window) > 6:
                await writer.evict_messages(agent.id, through_seq=window[-5].seq)
            elif change == 1 and window:
                await writer.update_message(window[-1].id, content=f"cut {k}", interrupted=True)
            elif change == 2:
                await writer.append_messages([msg(agent.id, "assistant", f"greeting {k}")])
            elif change == 3:
                await writer.append_messages([msg(agent.id, "user", f"imported {k}").model_copy(
                    update={"in_context": False, "kind": "imported"})])

        if change == 4:  # an abandoned turn: its input is dropped by the next one
            await abandoned(writer, k)
            await run_turn(store, 1000 + k, supersede=True)
        elif change == 5:
            await run_turn(other, 2000 + k)
        elif change == 6:
            await run_turn(store, 3000 + k, end=False)  # a replay: the lease given back, nothing stored
        elif change == 7:  # a turn whose lease expired and was taken over ends without giving it back
            t = turn(agent.id)
            begun = await store.begin_turn(t, [msg(agent.id, "user", f"slow {k}", turn_id=t.id)], holder="slow",
                                           lease_s=0.01, now=time.time())
            assert begun is not None
            taken = await other.begin_turn(turn(agent.id), [], holder="fast", lease_s=10, now=time.time() + 1)
            assert taken is not None
            await other.end_turn(agent.id, None, [msg(agent.id, "assistant", f"fast {k}")], holder="fast",
                                 lease=taken.lease)
            await store.end_turn(agent.id, None, [msg(agent.id, "assistant", f"late {k}")], holder="slow",
                                 lease=begun.lease)
        elif not mid:
            await act(window)
        ended = await run_turn(store, k, tools=k % 7 == 1, during=act if mid and change < 4 else None)
        if not mid:
            assert ended == await store.list_messages(agent.id, in_context=True)
        if k % 10 == 8:  # this process's own eviction after its turn, as memory upkeep does
            await store.evict_messages(agent.id, through_seq=ended[-3].seq)
        elif k % 10 == 9:  # or a hand-off: a memory job enqueued with the eviction, in one transaction
            window = await store.list_messages(agent.id, in_context=True)
            await store.enqueue_memory_job(agent.id, "eviction", HandoffRange(window[0].seq, window[-3].seq),
                                           through_seq=window[-3].seq, evict_through_seq=window[-3].seq,
                                           now=time.time())
    assert 0.2 * turns < len(reads) < 0.7 * turns, (len(reads), turns)  # read after others' changes, not every turn
