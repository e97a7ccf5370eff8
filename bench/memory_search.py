"""Memory benchmarks: search_memory latency, voice turns next to sleeptime jobs, recall quality.

    .venv/bin/python bench/memory_search.py --search [--sizes 1000,10000,100000] [--queries 50]
    .venv/bin/python bench/memory_search.py --turns [--turns-n 40]
    .venv/bin/python bench/memory_search.py --recall [bench/recall_holdout.json]
    .venv/bin/python bench/memory_search.py --calibrate
    .venv/bin/python bench/memory_search.py --all

--search  fills a fresh SQLite file with N passages (random unit vectors standing in for MiniLM vectors, and
          random words for BM25), then times ``MemorySearch.search`` end to end with the real local embedder:
          query embedding + vector top-k + FTS over passages and messages + fusion + formatting. Every query is
          distinct, so the query-embedding cache never hits. Also prints the parts (embedding, dot product).
--turns   runs the real app in-process against fake OpenAI servers and times voice turns (POST
          /v1/chat/completions, non-streaming, to the end of the reply) alone and while another agent's
          sleeptime jobs run back to back (each job: 3 LLM calls of 100 ms, 4 passages embedded with MiniLM,
          a block CAS). Turns are paced 30 ms apart so the busy window spans many jobs.
--recall [SET]  loads a recall set (default bench/recall_set.json) into a real server (one agent per part) and
          asks every question through the REST search: top-3 hit rate (direct and no-shared-word paraphrases), stale
          facts ranked above their update, abstention on unanswerable questions, time-window recall. A set of
          "conversations" (bench/recall_holdout.json: voice-transcript style, dev and test halves) is reported per
          split; its window questions carry their time in words only (and are asked once more with the window).
--calibrate  fits the confidence weights on the recall set and reports its facts stored six ways
          (bench/calibration.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voice_letta import ids  # noqa: E402
from voice_letta.agent.memory_search import MemorySearch, SearchWindow  # noqa: E402
from voice_letta.agent.models import AgentState  # noqa: E402
from voice_letta.agent.ports import NewBlock  # noqa: E402
from voice_letta.agent.recall.features import encode_passage  # noqa: E402
from voice_letta.providers.local_embed import LocalEmbedder, load_model  # noqa: E402
from voice_letta.store import open_store  # noqa: E402

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


def _fill_passages(db: Path, agent_id: str, n: int, dim: int, rng: np.random.Generator, *,
                   terms: bool = True) -> None:
    """Bulk insert with the sync driver (the bench measures search, not inserts). ``terms``: with the keyword terms
    and flags every insert through the store writes (without: rows as written before migration 0008)."""
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
            rows.append((ids.passage_id(), agent_id, text, synopsis, vecs[i].astype("<f4").tobytes(),
                         "all-MiniLM-L6-v2", dim, t, t + 60, now,
                         encode_passage(text, synopsis) if terms else None))
        conn.executemany(
            "INSERT INTO passages (id, agent_id, text, synopsis, embedding, embedding_model, embedding_dim, "
            "start_at, end_at, created_at, terms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # as a long-running server's auto-checkpoints would
    conn.close()


async def bench_search(sizes: list[int], queries: int) -> None:
    import os

    print("== search_memory latency (local MiniLM query embedding + hybrid retrieval) ==")
    print(f"   load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    await asyncio.to_thread(load_model)
    embedder = LocalEmbedder()
    rng = np.random.default_rng(0)
    random.seed(0)
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.db"
            store = await open_store(db)
            agent = await _new_agent(store)
            await asyncio.to_thread(_fill_passages, db, agent.id, n, embedder.dim, rng)
            search = MemorySearch(store, embedder)
            t = time.perf_counter()
            await search.search(agent.id, "warm up the index", {})
            load_ms = (time.perf_counter() - t) * 1000
            total, embed_only, retrieval, dot_only, rank_only = [], [], [], [], []
            index = search._indexes[agent.id]
            args = {"convo_keyword_queries": None, "start_minutes_ago": None, "end_minutes_ago": None}
            qrng = random.Random(42)  # the same questions at every size
            for i in range(queries):
                utterance = f"what did I say about {zipf_words(1, qrng)[0]} and {qrng.choice(VOCAB)} ({i})?"
                t = time.perf_counter()
                await search.search(agent.id, utterance, args)  # cold: the query is embedded now
                total.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                await search.search(agent.id, utterance, args)  # warm: embedding cached, retrieval only
                retrieval.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                [vec] = await embedder.embed([utterance + " again"])
                embed_only.append((time.perf_counter() - t) * 1000)
                q = np.asarray([vec], dtype=np.float32)
                t = time.perf_counter()
                index.vectors.search(q, SearchWindow(None, None), 20)
                dot_only.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                index.rank(q, [utterance], SearchWindow(None, None), limit=5)
                rank_only.append((time.perf_counter() - t) * 1000)
            print(f"{n:>7} passages: search {fmt(total)} | first search incl. index load {load_ms:.0f} ms")
            print(f"{'':>17} retrieval only (query vector cached) {fmt(retrieval)}")
            print(f"{'':>17} parts: embed {fmt(embed_only)} | vector top-20 {fmt(dot_only)}")
            print(f"{'':>17} ranking (BM25 + cosines + fusion, vector given) {fmt(rank_only)}")
            print(f"{'':>17} index RAM {index.vectors.matrix[: index.size].nbytes / 1e6:.1f} MB")
            # Rows written before migration 0008 have no stored terms: the first load tokenizes them and writes
            # them back (in the background); the next load is a plain one again.
            await asyncio.to_thread(_clear_terms, db)
            search = MemorySearch(store, embedder)
            t = time.perf_counter()
            await search.search(agent.id, "warm up the index", {})
            old_ms = (time.perf_counter() - t) * 1000
            await asyncio.gather(*search._background)
            search = MemorySearch(store, embedder)
            t = time.perf_counter()
            await search.search(agent.id, "warm up the index", {})
            again_ms = (time.perf_counter() - t) * 1000
            print(f"{'':>17} first search of rows without stored terms {old_ms:.0f} ms, after their terms were "
                  f"written back {again_ms:.0f} ms (load {os.getloadavg()[0]:.1f})")
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
                                                                    json.dumps({"new_memory": "x"}))],
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


DAY = 86400.0


async def bench_recall(name: str, data: dict[str, Any], *, verbose: bool = False) -> None:
    """The recall set through a real server's REST search (``bench/locomo.py`` starts it): top-3 hit rate of
    direct questions and of paraphrases sharing no content word with the fact, the share of updated facts whose
    stale version ranks first, abstention on questions nothing answers (top confidence below 0.5), and the
    share of a time window's lines a window search returns."""
    import aiohttp

    sys.path.insert(0, str(ROOT / "bench"))
    from locomo import call, start_server  # type: ignore[import-not-found]

    print(f"== recall quality on {name} (REST search of a real server) ==")
    print(f"   load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = await start_server(Path(tmp) / "recall.db")
        try:
            async with aiohttp.ClientSession() as http:
                async def agent(name: str, passages: list[dict[str, Any]]) -> tuple[str, list[str]]:
                    a = await call(http, "POST", f"{url}/v1/agents", json={"name": name})
                    made = await call(http, "POST", f"{url}/v1/agents/{a['id']}/archival/batch",
                                      json={"passages": passages})
                    return a["id"], [p["id"] for p in made["data"]]

                async def search(agent_id: str, query: str, k: int = 3, **window: float) -> list[dict[str, Any]]:
                    params = {"query": query, "limit": str(k), **{key: str(v) for key, v in window.items()}}
                    found = await call(http, "GET", f"{url}/v1/agents/{agent_id}/archival/search", params=params)
                    return list(found["data"])

                facts = data["facts"]
                fid, fids = await agent("facts", [
                    {"text": "\n".join(f["lines"]), "synopsis": f["synopsis"],
                     "start_at": now - (60 - 2 * i) * DAY} for i, f in enumerate(facts)])
                rows: dict[str, list[bool]] = {"direct": [], "paraphrase": []}
                answered_conf: list[float] = []
                for i, f in enumerate(facts):
                    for kind, q in (("direct", f["question"]), ("paraphrase", f.get("paraphrase"))):
                        if not q:
                            continue
                        top = await search(fid, q)
                        hit = fids[i] in [p["id"] for p in top]
                        rows[kind].append(hit)
                        answered_conf.append(top[0]["confidence"] if top else 0.0)
                        if verbose and not hit:
                            print(f"   miss ({kind}): {q} -> {[p['text'][:50] for p in top]}")
                abstained = []
                for q in data["unanswerable"]:
                    top = await search(fid, q)
                    conf = top[0]["confidence"] if top else 0.0
                    abstained.append(conf < 0.5)
                    if verbose and conf >= 0.5:
                        print(f"   answered an unanswerable ({conf:.2f}): {q} -> {top[0]['text'][:60]}")

                ups = data["updates"]
                passages = []
                for i, u in enumerate(ups):
                    passages.append({"text": u["old"], "start_at": now - 60 * DAY + i * 3600})
                    passages.append({"text": u["new"], "start_at": now - 5 * DAY + i * 3600})
                for i, text in enumerate(data["update_distractors"]):
                    passages.append({"text": text, "start_at": now - (50 - 5 * i) * DAY})
                uid, uids = await agent("updates", passages)
                stale_on_top = []
                for i, u in enumerate(ups):
                    old, new = uids[2 * i], uids[2 * i + 1]
                    ranked = [p["id"] for p in await search(uid, u["question"], k=5)]
                    stale = old in ranked and (new not in ranked or ranked.index(old) < ranked.index(new))
                    stale_on_top.append(stale)
                    if verbose and stale:
                        print(f"   stale first: {u['question']} -> {u['old']}")

                w = data["windows"]
                day0 = datetime.fromtimestamp(now, tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
                passages = [{"text": f["line"], "start_at": (day0.timestamp() - f["days_ago"] * DAY
                                                             + f["hour"] * 3600)} for f in w["facts"]]
                wid, wids = await agent("windows", passages)
                window_recall = []
                for q in w["questions"]:
                    newest, oldest = q["days_ago"]
                    start = day0.timestamp() - oldest * DAY
                    end = day0.timestamp() - (newest - 1) * DAY - 1
                    got = {p["id"] for p in await search(wid, q["question"], k=10, start_at=start, end_at=end)}
                    want = {wids[i] for i in q["expect"]}
                    window_recall.append(len(got & want) / len(want))
                    if verbose and want - got:
                        print(f"   window missed {len(want - got)}: {q['question']}")
                dia = data["dialogue"]
                did, dids = await agent("dialogue", [{"text": t, "start_at": now - 3 * DAY + 60 * i}
                                                     for i, t in enumerate(dia["lines"])])
                dia_hits, dia_abstained = [], []
                for q, target in dia["answerable"]:
                    top = await search(did, q)
                    dia_hits.append(dids[target] in [p["id"] for p in top])
                    answered_conf.append(top[0]["confidence"] if top else 0.0)
                for q in dia["swapped"]:
                    top = await search(did, q)
                    conf = top[0]["confidence"] if top else 0.0
                    dia_abstained.append(conf < 0.5)
                    if verbose and conf >= 0.5:
                        print(f"   answered a swapped-person question ({conf:.2f}): {q} -> {top[0]['text'][:60]}")
        finally:
            proc.terminate()
            await proc.wait()

    def rate(xs: list[bool]) -> str:
        return f"{sum(xs)}/{len(xs)} = {100 * sum(xs) / max(len(xs), 1):.1f} %"

    both = rows["direct"] + rows["paraphrase"]
    print(f"  top-3, direct questions:                 {rate(rows['direct'])}")
    print(f"  top-3, paraphrases (no shared word):      {rate(rows['paraphrase'])}")
    print(f"  top-3, all answerable:                    {rate(both)}")
    print(f"  stale fact ranked above its update:       {rate(stale_on_top)}")
    print(f"  abstention on unanswerable (conf < 0.5):  {rate(abstained)}")
    print(f"  answerable with top confidence < 0.5:     {rate([c < 0.5 for c in answered_conf])}")
    print(f"  time-window recall (lines of the window): {100 * statistics.fmean(window_recall):.1f} %")
    print(f"  two-person chat, top-3 on answerable:     {rate(dia_hits)}")
    print(f"  two-person chat, abstention when the question names the other person: {rate(dia_abstained)}")


def _holdout_time(at: dict[str, Any], now: float, day0: float) -> float:
    """When a held-out passage was said (see the set's description): days_ago/weekday + hour, or today."""
    seq = 30.0 * at.get("seq", 0)
    if "today" in at:
        return day0 + at["today"] * (now - day0 - 600) + seq
    return _holdout_day(at, day0) + at.get("hour", 12) * 3600 + seq


def _holdout_day(spec: dict[str, Any], day0: float) -> float:
    """The start (UTC midnight) of the day a spec names: days_ago, or the most recent past weekday (1-7 days)."""
    if "weekday" in spec:
        wanted = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"].index(spec["weekday"])
        today = datetime.fromtimestamp(day0, tz=UTC).weekday()
        return day0 - ((today - wanted) % 7 or 7) * DAY
    return day0 - spec["days_ago"] * DAY


def _holdout_window(spec: dict[str, Any], day0: float) -> tuple[float, float]:
    if spec.get("last_week"):
        monday = day0 - datetime.fromtimestamp(day0, tz=UTC).weekday() * DAY
        return monday - 7 * DAY, monday - 1
    start = _holdout_day(spec, day0)
    return start, start + DAY - 1


async def bench_holdout(name: str, data: dict[str, Any], *, verbose: bool = False) -> None:
    """A set of conversations with tagged questions (``bench/recall_holdout.json``), each conversation in its own
    agent of a real server, every question through the REST search with no window parameter (a window question
    carries its time in words only) and once more with the window given, reported per split (dev / test)."""
    import aiohttp

    sys.path.insert(0, str(ROOT / "bench"))
    from locomo import call, start_server  # type: ignore[import-not-found]

    print(f"== recall quality on {name} (REST search of a real server), per split ==")
    print(f"   load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    now = time.time()
    day0 = datetime.fromtimestamp(now, tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    res: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = await start_server(Path(tmp) / "holdout.db")
        try:
            async with aiohttp.ClientSession() as http:
                for conv in data["conversations"]:
                    r = res.setdefault(conv["split"], {})
                    a = await call(http, "POST", f"{url}/v1/agents", json={"name": conv["name"]})
                    said = [_holdout_time(p["at"], now, day0) for p in conv["passages"]]
                    made = await call(http, "POST", f"{url}/v1/agents/{a['id']}/archival/batch", json={
                        "passages": [{"text": p["text"], "synopsis": p.get("synopsis", ""), "start_at": t}
                                     for p, t in zip(conv["passages"], said, strict=True)]})
                    pids = [p["id"] for p in made["data"]]

                    async def search(query: str, k: int, agent_id: str = a["id"], **window: float
                                     ) -> list[dict[str, Any]]:
                        params = {"query": query, "limit": str(k), **{key: str(v) for key, v in window.items()}}
                        found = await call(http, "GET", f"{url}/v1/agents/{agent_id}/archival/search", params=params)
                        return list(found["data"])

                    for q in conv["questions"]:
                        kind, text = q["kind"], q["question"]
                        if kind == "window":
                            lo, hi = _holdout_window(q["window"], day0)
                            want = {pids[i] for i, t in enumerate(said) if lo <= t <= hi}
                            if not want:
                                continue
                            for label, window in (("window (words only)", {}),
                                                  ("window (given)", {"start_at": lo, "end_at": hi})):
                                got = await search(text, 10, **window)
                                ids_ = {p["id"] for p in got}
                                r.setdefault(label, []).append(len(ids_ & want) / len(want))
                                r.setdefault(label + ", outside", []).append(len(ids_ - want))
                                if verbose and want - ids_:
                                    print(f"   [{conv['split']}] {label} missed {len(want - ids_)}/{len(want)}: "
                                          f"{text}")
                            continue
                        top = await search(text, 5)
                        ranked = [p["id"] for p in top]
                        conf = top[0]["confidence"] if top else 0.0
                        if kind == "unanswerable":
                            r.setdefault("abstained", []).append(float(conf < 0.5))
                            if verbose and conf >= 0.5:
                                print(f"   [{conv['split']}] answered ({conf:.2f}): {text} -> {top[0]['text'][:70]!r}")
                            continue
                        want_ids = [pids[i] for i in q["expect"]]
                        hit = any(w in ranked[:3] for w in want_ids)
                        r.setdefault("top3 " + kind, []).append(float(hit))
                        r.setdefault("top3 all", []).append(float(hit))
                        r.setdefault("answerable conf < 0.5", []).append(float(conf < 0.5))
                        if kind == "update":
                            new = min((ranked.index(w) for w in want_ids if w in ranked), default=99)
                            old = min((ranked.index(pids[i]) for i in q["stale"] if pids[i] in ranked), default=99)
                            r.setdefault("stale on top", []).append(float(old < new))
                            if verbose and old < new:
                                print(f"   [{conv['split']}] stale first: {text} -> {top[0]['text'][:70]!r}")
                        if verbose and not hit:
                            print(f"   [{conv['split']}] miss ({kind}): {text} -> "
                                  f"{[p['text'][:40] for p in top[:3]]}")
                        if verbose and conf < 0.5:
                            print(f"   [{conv['split']}] low confidence {conf:.2f} ({kind}): {text}")
        finally:
            proc.terminate()
            await proc.wait()
    splits = sorted(res)
    everything: dict[str, list[float]] = {}
    for s in splits:
        for key, xs in res[s].items():
            everything.setdefault(key, []).extend(xs)
    rows = ["top3 fact", "top3 paraphrase", "top3 update", "top3 all", "stale on top", "abstained",
            "answerable conf < 0.5", "window (words only)", "window (given)", "window (words only), outside",
            "window (given), outside"]
    print(f"  {'':<34}" + "".join(f"{s:>16}" for s in [*splits, "all"]))
    for key in rows:
        cells = []
        for xs in [*(res[s].get(key, []) for s in splits), everything.get(key, [])]:
            if not xs:
                cells.append(f"{'-':>16}")
            elif "window" in key and "outside" not in key:
                cells.append(f"{100 * statistics.fmean(xs):>14.1f} %")
            elif "outside" in key:
                cells.append(f"{sum(xs):>10.0f} lines")
            else:
                cells.append(f"{int(sum(xs)):>4}/{len(xs):<3} {100 * statistics.fmean(xs):5.1f} %")
        print(f"  {key:<34}" + "".join(cells))


async def bench_calibrate() -> None:
    """The confidence weights' fit and the storage-styles report (bench/calibration.py)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from calibration import calibrate  # type: ignore[import-not-found]

    await calibrate()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--search", action="store_true")
    parser.add_argument("--turns", action="store_true")
    parser.add_argument("--recall", nargs="?", const=str(ROOT / "bench" / "recall_set.json"), default=None,
                        metavar="SET", help="a recall set file (default bench/recall_set.json; a set with "
                                            "'conversations' is reported per split, e.g. bench/recall_holdout.json)")
    parser.add_argument("--all", action="store_true")
    parser.add_argument("--calibrate", action="store_true",
                        help="fit the confidence weights on the recall set; its facts in six storage styles")
    parser.add_argument("--verbose", action="store_true", help="--recall: print every miss")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--turns-n", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--zero-embedder", action="store_true", help="jobs embed nothing (isolates their CPU)")
    parser.add_argument("--inprocess-embedder", action="store_true",
                        help="jobs embed in the server process's threads (the design we rejected)")
    args = parser.parse_args()

    recall_path = Path(args.recall or ROOT / "bench" / "recall_set.json")
    recall_data = json.loads(recall_path.read_text())

    async def run() -> None:
        if args.calibrate:
            await bench_calibrate()
        if args.recall or args.all:
            if "conversations" in recall_data:
                await bench_holdout(recall_path.name, recall_data, verbose=args.verbose)
            else:
                await bench_recall(recall_path.name, recall_data, verbose=args.verbose)
        if args.search or args.all:
            await bench_search([int(s) for s in args.sizes.split(",")], args.queries)
        if args.turns or args.all:
            await bench_turns(args.turns_n, rounds=args.rounds, zero_embedder=args.zero_embedder,
                              inprocess_embedder=args.inprocess_embedder)

    import logging

    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    asyncio.run(run())


if __name__ == "__main__":
    main()
