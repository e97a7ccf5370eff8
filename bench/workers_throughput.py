"""Turns per second of ``voice-letta serve --workers N`` for N = 1, 2, …: does throughput scale with workers?

Layout (one machine; every process shares its cores, so the load generator and the fake model are kept cheap):
- ``bench/fake_llm.py``: the OpenAI-compatible fake in its own process (instant replies; it also walks memory
  jobs through their tool calls, so the sleeptime agent's hand-offs run as they do in production);
- the server under test: the real CLI, ``voice-letta serve --workers N --port 0`` on a SQLite file (or
  ``--db postgresql://…``), agents on the real ``openai`` provider pointed at the fake;
- the load generator (this process): raw asyncio HTTP/1.1 on keep-alive connections with pre-built requests,
  ``--concurrency`` connections in a closed loop (each sends its next turn when the previous one ended), each on
  its own agent; every turn is new user input (no replay). The kernel spreads the connections over the workers
  (SO_REUSEPORT).

Before the clock starts, every worker's embedding model is loaded (a passage stored on a throwaway agent over fresh
connections): in production ``serve`` preloads it; here a first memory job would load it inside the window.

Reported per N: turns/s, memory jobs run in the measured window (and left waiting at its end: a saturated worker
defers them, so compare CPU per turn only between runs that ran about as many), server CPU ms per turn (all
worker processes, ``/proc``), that of the workers' helper processes (background embedder, sandbox server),
CPU of the load generator and of the fake per turn, and the ratio to N = 1. The
ratio is bounded by the cores the first run's processes used: one worker is not one core (its store thread, the
embedder and memory jobs run on threads of their own), and the generator and the fake take their share. With
C the cores all of them used in the first run (one worker), N workers on K cores can give at most min(N, K) / C
times its turns/s, which the report prints ("ceiling"). With ``--db postgresql`` (a throwaway cluster, a new database
per run) the database server's CPU per turn is reported too and counted in C.

Where a worker's time goes: its CPU as a share of a core, and its event loop's (main thread's) time on a CPU and
runnable-but-waiting-for-a-CPU (``/proc/PID/schedstat``). The rest of the wall time the loop slept with nothing
to run: waiting on its store thread, the database's write lock, the GIL held by another of its threads, the
network. That idle share is what serializes workers; time spent waiting for a CPU is the machine's (its other
tenants', or the cores being full), and no design can turn it into turns/s.

    .venv/bin/python bench/workers_throughput.py [--workers 1 2] [--concurrency 16] [--seconds 20] \
        [--db postgresql|postgresql://…] [--cpu-per-worker 0.4] [--buffer-max 2000]

``--cpu-per-worker Q`` gives every worker the same CPU (a CFS quota of Q cores on its process tree, root only; see
``bench/cpu_quota.py``): the ratio then measures what the server shares between workers, not the machine's cores.
``--buffer-max N`` gives the measured agents a buffer the run does not fill: no memory jobs in the window, which a
saturated single worker defers and two workers run, so both runs do the same work per turn.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpu_quota import CpuGroups, Group  # noqa: E402
from fake_llm import start_fake_llm, stop_fake_llm  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
_STARTED = re.compile(r"worker \d+ started \(pid (\d+)")
_LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (its threads included), from /proc."""
    return sum(user_sys_s(pid))


def user_sys_s(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def tree_cpu_s(root: int) -> float:
    """CPU seconds of ``root`` and its children (PostgreSQL's postmaster and its backends)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == root or int(fields[1]) == root:
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def children_cpu_s(pid: int) -> float:
    """CPU seconds of a worker's child processes: the sleeptime agent's background embedding process (niced, one
    per worker), the tool sandbox's server. They run on the same cores, so they count in C."""
    return tree_cpu_s(pid) - cpu_s(pid)


def event_loop_s(pid: int) -> tuple[float, float]:
    """(on a CPU, runnable but waiting for one) seconds of a process's main thread, the event loop's, from
    /proc/PID/schedstat. What is left of the wall time the loop slept: it had nothing to do (waiting on its
    store thread, a lock, the network), which is the share that more workers cannot use."""
    run_ns, wait_ns, _ = Path(f"/proc/{pid}/schedstat").read_text().split()
    return int(run_ns) / 1e9, int(wait_ns) / 1e9


class Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; ``turn`` sends a request and waits for the end of its chunked body."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.done: asyncio.Future[None] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.buf.endswith(b"\r\n0\r\n\r\n") and self.done is not None and not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("server closed the connection"))

    async def turn(self, request: bytes) -> None:
        assert self.transport is not None
        self.buf.clear()
        self.done = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        await self.done
        if not self.buf.startswith(b"HTTP/1.1 200") or b'"content":"Sure."' not in self.buf:
            raise RuntimeError(f"unexpected reply: {bytes(self.buf[:300])!r}")


def request_bytes(port: int, agent: str, n: int) -> bytes:
    body = json.dumps({"model": agent, "stream": True,
                       "messages": [{"role": "user", "content": f"Hello, this is turn {n}."}]}).encode()
    return (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def start_server(workers: int, db: str, log: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "BENCH_FAKE_LLM_KEY": "sk-bench", "PYTHONUNBUFFERED": "1"}
    env.pop("VOICE_LETTA_API_KEY", None)
    out = open(log, "wb")  # noqa: SIM115 - the child writes it; closed once the child has it
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voice_letta.cli", "serve", "--port", "0", "--db", db, "--workers", str(workers),
            "--no-preload", "--no-default-agent", cwd=ROOT, env=env, stdout=out, stderr=out)
    finally:
        out.close()


async def wait_ready(proc: asyncio.subprocess.Process, workers: int, log: Path) -> tuple[int, list[int]]:
    async with asyncio.timeout(120):
        while True:
            text = await asyncio.to_thread(log.read_text, errors="replace")
            if (m := _LISTENING.search(text)) and (workers == 1 or len(_STARTED.findall(text)) >= workers):
                port = int(m.group(1))
                pids = [int(p) for p in _STARTED.findall(text)] or [proc.pid]
                break
            if proc.returncode is not None:
                raise RuntimeError(f"serve exited:\n{text[-2000:]}")
            await asyncio.sleep(0.2)
    # every worker answers before the clock starts: 20 fresh connections in a row get a 200
    ok = 0
    async with asyncio.timeout(120):
        while ok < 20:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
                ok = ok + 1 if (await reader.read()).startswith(b"HTTP/1.1 200") else 0
                writer.close()
            except OSError:
                ok = 0
                await asyncio.sleep(0.2)
    await asyncio.sleep(3)  # the last worker's start-up work (sandbox probe, model warm-up) is over
    return port, pids


async def job_counts(port: int, agents: list[str]) -> tuple[int, int]:
    """(memory jobs done, jobs pending or running) over the bench's agents, through the REST API."""
    import aiohttp

    done = waiting = 0
    async with aiohttp.ClientSession() as s:
        for agent in agents:
            async with s.get(f"http://127.0.0.1:{port}/v1/agents/{agent}/memory/jobs?limit=1000") as r:
                for job in (await r.json())["data"]:
                    done += job["status"] == "done"
                    waiting += job["status"] in ("pending", "running")
    return done, waiting


async def create_agents(port: int, fake_url: str, n: int, prefix: str = "bench", buffer_max: int = 0) -> list[str]:
    import aiohttp

    agents = []
    async with aiohttp.ClientSession() as s:
        for i in range(n):
            body: dict[str, Any] = {
                "name": f"{prefix}-{i}", "llm": {"provider": "openai", "model": "fake-model", "base_url": fake_url,
                                                 "api_key_env": "BENCH_FAKE_LLM_KEY", "max_retries": 0},
                "handoff_on_session_end": False}
            if buffer_max:  # a buffer the run does not fill: no hand-off, so no memory job, in the window
                body["buffer"] = {"max_messages": buffer_max, "min_messages": buffer_max // 2}
            async with s.post(f"http://127.0.0.1:{port}/v1/agents", json=body) as r:
                assert r.status == 201, await r.text()
                agents.append((await r.json())["id"])
    return agents


async def warm_embedders(port: int, fake_url: str, workers: int) -> None:
    """Load every worker's embedding model before the clock starts: the first memory job (or search) of a worker
    loads it (~3 s of CPU, most of it importing onnx with the GIL held), which inside the measured window counted
    against one worker and twice against two. A passage stored on a throwaway agent embeds its text; fresh
    connections land on every worker (SO_REUSEPORT)."""
    [agent] = await create_agents(port, fake_url, 1, prefix="bench-warm")
    body = json.dumps({"text": "warming up the embedding model"}).encode()
    for _ in range(8 * workers):
        await post_on_fresh_connection(port, f"/v1/agents/{agent}/archival", body, 201, "warming the embedder")


async def post_on_fresh_connection(port: int, path: str, body: bytes, status: int, what: str) -> None:
    """POST ``body`` on a connection of its own (``Connection: close``), so that SO_REUSEPORT spreads such requests
    over the workers; RuntimeError unless the reply has ``status``."""
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    reply = await reader.read()
    writer.close()
    if not reply.startswith(f"HTTP/1.1 {status}".encode()):
        raise RuntimeError(f"{what} failed: {reply[-400:]!r}")


WARM_JOB_CPU_S = 0.5  # a worker whose background embedder used less than this has not loaded its model yet


async def warm_background_embedders(port: int, fake_url: str, pids: list[int]) -> None:
    """Start every worker's background embedding process (the sleeptime agent's passages) before the clock starts.
    Each worker starts its own on its first memory job: a spawned Python that loads MiniLM, ~1.5 s of CPU and ~3 s
    of wall time (scratch measurement, session 8), which fell inside the measured window once for one worker and
    twice for two. A short import on fresh connections (they land on every worker: SO_REUSEPORT) gives each worker
    a memory job it claims at once; the bench waits for those jobs and until every worker has such a process."""
    for attempt in range(4):
        agents = await create_agents(port, fake_url, 4 * len(pids), prefix=f"bench-warmjobs{attempt}")
        said = time.time() - 86400
        body = json.dumps({"messages": [
            {"role": "user", "content": "I moved to Lisbon last spring and I love the light there.", "said_at": said},
            {"role": "assistant", "content": "Lisbon is lovely in the spring.", "said_at": said + 5}]}).encode()
        for agent in agents:
            await post_on_fresh_connection(port, f"/v1/agents/{agent}/messages/import", body, 202,
                                           "importing for the embedder warm-up")
        deadline = time.monotonic() + 120
        while (await job_counts(port, agents))[1] and time.monotonic() < deadline:  # noqa: ASYNC110 - over REST
            await asyncio.sleep(0.5)
        if all(children_cpu_s(p) >= WARM_JOB_CPU_S for p in pids):
            return
    print("warning: not every worker's background embedder started before the measured window", file=sys.stderr)


async def measure(workers: int, args: argparse.Namespace, fake: tuple[int, str]) -> dict[str, Any]:
    fake_pid, fake_url = fake
    tmp = Path(tempfile.mkdtemp(prefix="vl-workers-"))
    db = args.db or str(tmp / "voice.db")
    if args.cluster is not None:  # a new database per run on the throwaway cluster
        from tests.postgres import Databases

        db = await Databases(args.cluster).create()
    proc = await start_server(workers, db, tmp / "serve.log")
    quota = CpuGroups(args.cpu_per_worker, args.quota_period_us) if args.cpu_per_worker else None
    try:
        port, pids = await wait_ready(proc, workers, tmp / "serve.log")
        agents = await create_agents(port, fake_url, args.concurrency, buffer_max=args.buffer_max)
        await warm_embedders(port, fake_url, workers)
        await warm_background_embedders(port, fake_url, pids)
        groups: list[Group] = []
        if quota is not None:  # after the warm-ups (model loading at a fraction of a core would take long)
            groups = [quota.worker(i) for i in range(len(pids))]
            for group, pid in zip(groups, pids, strict=True):
                group.add_tree(pid)
            bench = quota.bench()
            bench.add(os.getpid())  # this process only: the server under test is its child
            for pid in (fake_pid, args.postmaster):
                if pid:
                    bench.add_tree(pid)
        loop = asyncio.get_running_loop()
        conns = [(await loop.create_connection(Conn, "127.0.0.1", port))[1] for _ in agents]
        counter = [0]
        stop_at = [0.0]

        async def worker(conn: Conn, agent: str) -> int:
            done = 0
            while time.perf_counter() < stop_at[0]:
                counter[0] += 1
                await conn.turn(request_bytes(port, agent, counter[0]))
                done += 1
            return done

        stop_at[0] = time.perf_counter() + args.warmup_s
        await asyncio.gather(*(worker(c, a) for c, a in zip(conns, agents, strict=True)))
        jobs0, _ = await job_counts(port, agents)
        per0 = [cpu_s(p) for p in pids]
        helpers0 = sum(children_cpu_s(p) for p in pids)
        sys0 = sum(user_sys_s(p)[1] for p in pids)
        sched0 = [event_loop_s(p) for p in pids]
        tree0 = [tree_cpu_s(p) for p in pids]
        throttle0 = [g.throttle_stats() for g in groups]
        fake0, own0 = cpu_s(fake_pid), time.process_time()
        pg0 = tree_cpu_s(args.postmaster) if args.postmaster else 0.0
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        stop_at[0] = t0 + args.seconds
        turns = sum(await asyncio.gather(*(worker(c, a) for c, a in zip(conns, agents, strict=True))))
        wall = time.perf_counter() - t0
        per = [cpu_s(p) - c for p, c in zip(pids, per0, strict=True)]
        trees = [tree_cpu_s(p) - c for p, c in zip(pids, tree0, strict=True)]
        throttled = [tuple(b - a for a, b in zip(t0, g.throttle_stats(), strict=True))
                     for g, t0 in zip(groups, throttle0, strict=True)]
        helpers = sum(children_cpu_s(p) for p in pids) - helpers0
        sys_s = sum(user_sys_s(p)[1] for p in pids) - sys0
        sched = [tuple(b - a for a, b in zip(s0, event_loop_s(p), strict=True)) for p, s0 in zip(pids, sched0,
                                                                                                 strict=True)]
        server = sum(per)
        fake_cpu, own = cpu_s(fake_pid) - fake0, time.process_time() - own0
        pg_cpu = tree_cpu_s(args.postmaster) - pg0 if args.postmaster else 0.0
        jobs1, backlog = await job_counts(port, agents)
        for c in conns:
            if c.transport is not None:
                c.transport.close()
        return {"jobs": jobs1 - jobs0, "backlog": backlog,
                "workers": workers, "turns": turns, "tps": turns / wall, "server_ms": server * 1000 / turns,
                "sys_ms": sys_s * 1000 / turns, "db_ms": pg_cpu * 1000 / turns,
                "helpers_ms": helpers * 1000 / turns,
                "client_ms": own * 1000 / turns, "fake_ms": fake_cpu * 1000 / turns, "load0": load0,
                "load1": os.getloadavg()[0], "split": "/".join(f"{c / wall * 100:.0f}%" for c in per),
                "loop": "/".join(f"{r / wall * 100:.0f}+{w / wall * 100:.0f}%" for r, w in sched),
                # per worker: its tree's CPU as a share of its quota, and the share of periods it hit the quota
                "quota": "/".join(f"{t / (args.cpu_per_worker * wall) * 100:.0f}% ({n and th / n * 100:.0f}%)"
                                  for t, (n, th) in zip(trees, throttled, strict=False)) if groups else "–"}
    finally:
        if quota is not None:
            quota.close()
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def start_cluster(args: argparse.Namespace) -> None:
    """``--db postgresql``: a throwaway PostgreSQL cluster (tests/postgres.py), given this bench's CPU priority."""
    args.cluster, args.postmaster = None, 0
    if args.db != "postgresql":
        return
    sys.path.insert(0, str(ROOT))
    from tests.postgres import Cluster

    args.cluster = Cluster()
    args.db = args.cluster.url()
    data = args.cluster._dir / "data" if args.cluster._dir is not None else None
    if data is not None and (data / "postmaster.pid").exists():
        args.postmaster = int((data / "postmaster.pid").read_text().split()[0])
        # pg_ctl starts the server in a session of its own; give it this one's scheduling weight (root only)
        with contextlib.suppress(OSError, ValueError, IndexError):
            nice = Path("/proc/self/autogroup").read_text().split()[-1]
            Path(f"/proc/{args.postmaster}/autogroup").write_text(nice)


async def main(args: argparse.Namespace) -> None:
    start_cluster(args)
    fake_proc, fake_url, _ = await start_fake_llm()
    try:
        rows = [await measure(n, args, (fake_proc.pid, fake_url)) for n in args.workers]
    finally:
        await stop_fake_llm(fake_proc)
        if args.cluster is not None:
            args.cluster.stop()
    base = rows[0]["tps"]
    first = rows[0]
    cores_used = (first["server_ms"] + first["helpers_ms"] + first["client_ms"] + first["fake_ms"] + first["db_ms"]
                  ) * base / 1000
    cores = os.cpu_count() or 1
    print(f"\nconcurrency {args.concurrency} closed-loop streams, {args.seconds:g} s per run, cores {os.cpu_count()}, "
          f"database {'PostgreSQL' if args.db.startswith('postgres') else 'SQLite'}"
          + (f", {args.cpu_per_worker:g} of a core per worker (period {args.quota_period_us} us)"
             if args.cpu_per_worker else "") + "\n")
    print("| workers | turns | memory jobs run (left) | turns/s | vs 1 worker | server CPU ms/turn (of it kernel) "
          "| workers' helper processes ms/turn | generator ms/turn "
          "| fake LLM ms/turn | database server ms/turn | ceiling min(N, cores) / C | workers' CPU (% of a core) "
          "| event loops: running+waiting for a CPU | quota used (periods throttled) | load before/after |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        # the first run used C cores; with K cores no run can do more than K / C times its turns/s
        # with a quota each worker gets the same CPU whatever the cores: N workers can give at most N times
        ceiling = "–" if r is first else (f"{r['workers'] / first['workers']:.2f}x" if args.cpu_per_worker else
                                          f"{max(1.0, min(r['workers'], cores) / cores_used):.2f}x")
        print(f"| {r['workers']} | {r['turns']:.0f} | {r['jobs']} ({r['backlog']}) | {r['tps']:.0f} | "
              f"{r['tps'] / base:.2f}x | "
              f"{r['server_ms']:.2f} ({r['sys_ms']:.2f}) | {r['helpers_ms']:.2f} | {r['client_ms']:.2f} | "
              f"{r['fake_ms']:.2f} | "
              f"{r['db_ms']:.2f} | "
              f"{ceiling} (C {cores_used:.2f}) | {r['split']} | {r['loop']} | {r['quota']} | "
              f"{r['load0']:.2f}/{r['load1']:.2f} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--warmup-s", type=float, default=3.0)
    ap.add_argument("--db", default="", help="a postgresql:// URL, or 'postgresql' for a throwaway cluster "
                    "(a new database per run); default: a new SQLite file per run")
    ap.add_argument("--cpu-per-worker", type=float, default=0.0,
                    help="give each worker (its threads and helper processes) this many cores as a CFS quota in a "
                    "cgroup of its own (root, cgroup-v1 cpu): equal CPU per worker, so the ratio measures the "
                    "design, not the machine (see bench/cpu_quota.py)")
    ap.add_argument("--buffer-max", type=int, default=0,
                    help="the measured agents' message buffer (e.g. 2000: no hand-off to the sleeptime agent, so no "
                    "memory job, in the window; both runs then do the same work per turn); default: the server's")
    ap.add_argument("--quota-period-us", type=int, default=10_000,
                    help="CFS period of the quota: short, so a worker throttled while it holds the SQLite write "
                    "lock holds it up for at most a period")
    parsed = ap.parse_args()
    if not 1 <= parsed.concurrency <= 500 or not 1 <= parsed.seconds <= 600:
        ap.error("--concurrency 1..500, --seconds 1..600")
    if parsed.cpu_per_worker and not (0.05 <= parsed.cpu_per_worker <= 4 and 1000 <= parsed.quota_period_us <= 1e6):
        ap.error("--cpu-per-worker 0.05..4, --quota-period-us 1000..1000000")
    asyncio.run(main(parsed))
