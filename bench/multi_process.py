"""Several server processes on one database under load, one of them killed with SIGKILL mid-turn: is anything lost?

Two layouts, both through the real CLI and the real ``openai`` provider (``bench/fake_llm.py`` in its own
process, which also walks every memory job through its tool calls and archives one passage per job):

- ``--backend postgresql``: two separate ``voice-letta serve`` processes (think: two machines) on one PostgreSQL
  database (``--db URL``, else a throwaway cluster of the installed PostgreSQL, as the tests start one); the
  streams alternate between them, and process A is killed with SIGKILL mid-turn and not restarted;
- ``--backend sqlite``: ``voice-letta serve --workers 2`` on one SQLite file; the worker holding a busy agent
  lease is killed with SIGKILL (the supervisor restarts it).

``--streams`` paced streams (each its own agent with a small message buffer, so hand-offs to the sleeptime agent
run all the time; ``--agents N`` shares N agents among them, so a cut request's resend comes after other turns of
its agent) send user turns with exponential gaps (mean ``--gap-s``) for ``--seconds``; a request that fails
(its process died) is sent again, unchanged, as a framework would retry. Afterwards (once every memory job has
finished) the bench checks the database: every user message sent is stored exactly once, every agent's history is
gapless, every job ran to completion once and left exactly one passage, and it prints time to first content.

    .venv/bin/python bench/multi_process.py --backend postgresql [--streams 50] [--seconds 40]
    .venv/bin/python bench/multi_process.py --backend sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_llm import start_fake_llm, stop_fake_llm  # noqa: E402

from tests.integration.workers.procs import Serve, query  # noqa: E402


async def stream(i: int, urls: list[str], agent: str, args: argparse.Namespace, stop_at: float,
                 log: dict[str, Any]) -> None:
    rng = random.Random(i)
    await asyncio.sleep(rng.uniform(0, args.gap_s))
    k = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as s:
        while time.monotonic() < stop_at:
            text = f"stream {i} turn {k}: please remember this."
            body = {"model": agent, "stream": True, "messages": [{"role": "user", "content": text}]}
            attempt = 0
            while True:
                url = urls[(i + k + attempt) % len(urls)]
                sent = time.monotonic()
                first: float | None = None
                try:
                    async with s.post(f"{url}/v1/chat/completions", json=body) as r:
                        if r.status != 200:
                            raise aiohttp.ClientResponseError(r.request_info, (), status=r.status)
                        async for line in r.content:
                            if first is None and b'"content":"' in line and b'"content":""' not in line:
                                first = time.monotonic()
                            if line.startswith(b"data: [DONE]"):
                                break
                        else:
                            raise aiohttp.ClientPayloadError("stream ended early")
                    break
                except (aiohttp.ClientError, TimeoutError):
                    attempt += 1
                    log["retries"] += 1
                    await asyncio.sleep(0.2)
            log["sent"].append((agent, text))
            if first is not None:
                log["first_ms"].append((first - sent) * 1000)
            k += 1
            await asyncio.sleep(rng.expovariate(1 / args.gap_s))


async def kill_mid_turn(serves: list[Serve], backend: str, at: float, log: dict[str, Any]) -> None:
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    db = serves[0].db
    async with asyncio.timeout(30):
        while True:
            busy = await query(db, "SELECT holder FROM agent_leases WHERE busy = 1")
            if backend == "sqlite":
                pids = serves[0].worker_pids()
                victims = [pids[h] for (h,) in busy if h in pids]
            else:
                victims = [serves[0].proc.pid] if busy and serves[0].proc is not None else []
            if victims:
                os.kill(victims[0], signal.SIGKILL)
                log["killed"] = victims[0]
                log["killed_at"] = time.monotonic()
                return
            await asyncio.sleep(0.01)


async def main(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="vl-multi-"))
    cluster = None
    if args.backend == "postgresql" and not args.db:
        from tests.postgres import Cluster, Databases

        cluster = Cluster()
        args.db = await Databases(cluster).create()
    db = args.db or str(tmp / "voice.db")
    os.environ["FAKE_OPENAI_KEY"] = "sk-bench"
    fake_proc, fake_url, _ = await start_fake_llm()
    serves = ([Serve(db, tmp / "a.log"), Serve(db, tmp / "b.log")] if args.backend == "postgresql"
              else [Serve(db, tmp / "serve.log", workers=2)])
    log: dict[str, Any] = {"sent": [], "first_ms": [], "retries": 0}
    try:
        for serve in serves:
            await serve.start()
        urls = [s.url for s in serves]
        llm = {"provider": "openai", "model": "fake-model", "base_url": fake_url, "api_key_env": "FAKE_OPENAI_KEY",
               "max_retries": 0}
        agents = []
        async with aiohttp.ClientSession() as s:
            for i in range(args.agents or args.streams):
                async with s.post(f"{urls[0]}/v1/agents", json={
                        "name": f"stream-{i}", "llm": llm, "handoff_on_session_end": False,
                        "buffer": {"max_messages": 8, "min_messages": 5}}) as r:
                    assert r.status == 201, await r.text()
                    agents.append((await r.json())["id"])
        load0 = os.getloadavg()[0]
        start = time.monotonic()
        stop_at = start + args.seconds
        kill = asyncio.create_task(kill_mid_turn(serves, args.backend, start + args.kill_after_s, log))
        await asyncio.gather(*(stream(i, urls, agents[i % len(agents)], args, stop_at, log)
                               for i in range(args.streams)))
        await kill
        load1 = os.getloadavg()[0]
        # every memory job finishes (the dead process's jobs are claimed again once their lease runs out)
        async with asyncio.timeout(120):
            while True:
                if await query(db, "SELECT count(*) FROM memory_jobs WHERE status IN ('pending', 'running')") \
                        == [(0,)]:
                    break
                await asyncio.sleep(0.5)
        await report(db, args, agents, log, load0, load1)
    finally:
        for serve in serves:
            await serve.stop()
        await stop_fake_llm(fake_proc)
        if cluster is not None:
            cluster.stop()


async def report(db: str, args: argparse.Namespace, agents: list[str], log: dict[str, Any], load0: float,
                 load1: float) -> None:
    sent = log["sent"]
    stored = await query(db, "SELECT agent_id, content FROM messages WHERE role = 'user'")
    counts: dict[tuple[str, str], int] = {}
    for row in stored:
        counts[(row[0], row[1])] = counts.get((row[0], row[1]), 0) + 1
    lost = [m for m in sent if counts.get(m, 0) == 0]
    doubled = [m for m, n in counts.items() if n > 1]
    gaps = 0
    for agent in agents:
        seqs = [r[0] for r in await query(db, "SELECT seq FROM messages WHERE agent_id = ? ORDER BY seq", agent)]
        gaps += int(seqs != list(range(1, len(seqs) + 1)))
    jobs = await query(db, "SELECT id, status, attempts, crashes FROM memory_jobs")
    per_job = dict(await query(db, "SELECT job_id, count(*) FROM passages WHERE job_id IS NOT NULL GROUP BY job_id"))
    not_done = [j for j in jobs if j[1] != "done"]
    runs_failed = [j for j in jobs if j[2] - j[3] != 1]  # attempts that were not crashes: exactly one
    wrong_effects = [j for j in jobs if per_job.get(j[0], 0) != 1]
    first = sorted(log["first_ms"])

    def pct(p: float) -> float:
        return first[min(len(first) - 1, int(p / 100 * len(first)))] if first else float("nan")

    layout = ("two `serve` processes, one PostgreSQL database" if args.backend == "postgresql"
              else "`serve --workers 2`, one SQLite file")
    print(f"\n{layout}; {args.streams} paced streams over {len(agents)} agents (mean gap {args.gap_s:g} s) for "
          f"{args.seconds:g} s; "
          f"SIGKILL of {'process A' if args.backend == 'postgresql' else 'a worker'} (pid {log.get('killed')}) "
          f"mid-turn at {args.kill_after_s:g} s; load average {load0:.2f} -> {load1:.2f}\n")
    print("| user turns sent | lost | stored twice | agents with seq gaps | requests sent again | memory jobs "
          "| not done | not run exactly once | without exactly one passage | first content p50 / p99 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {len(sent)} | {len(lost)} | {len(doubled)} | {gaps} | {log['retries']} | {len(jobs)} | {len(not_done)} "
          f"| {len(runs_failed)} | {len(wrong_effects)} | {pct(50):.1f} / {pct(99):.1f} |")
    if lost or doubled or gaps or not_done or runs_failed or wrong_effects:
        print(json.dumps({"lost": lost[:5], "doubled": doubled[:5], "not_done": not_done[:5],
                          "runs": runs_failed[:5], "effects": wrong_effects[:5]}, default=str))
        sys.exit(1)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    ap.add_argument("--db", default="", help="postgresql://… (default: a throwaway cluster) or a SQLite path")
    ap.add_argument("--streams", type=int, default=50)
    ap.add_argument("--agents", type=int, default=0, help="agents the streams share (default: one each)")
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--gap-s", type=float, default=1.0)
    ap.add_argument("--kill-after-s", type=float, default=10.0)
    parsed = ap.parse_args()
    if not 1 <= parsed.streams <= 500 or not 5 <= parsed.seconds <= 600:
        ap.error("--streams 1..500, --seconds 5..600")
    if re.match(r"^postgres(ql)?://", parsed.db) and parsed.backend != "postgresql":
        ap.error("a postgresql:// --db needs --backend postgresql")
    asyncio.run(main(parsed))
