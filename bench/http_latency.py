"""Server-added latency and CPU of ``POST /v1/chat/completions`` (stream=true) against an instant fake LLM.

Two models (``--model``):

* ``real`` (default, the path users run): agents use the ``openai`` provider pointed at ``bench/fake_llm.py``,
  an OpenAI-compatible server in its own process, so a turn goes through the real provider code (registry,
  retries, the openai SDK client, HTTP, SSE decoding). The fake's own time from reading the request to writing
  its first content chunk is subtracted;
* ``instant`` (the lower bound): a fake ``ChatModel`` inside the server process (``Overrides(models=...)``),
  which leaves out the provider adapter, HTTP and SSE parsing.

Two measurements, each at 1 and at N (default 50) concurrent streams:

* content: request received -> first non-empty ``delta.content`` chunk written, minus the model's own
  time before its first content (a few microseconds for the instant model);
* filler (``instant`` model only): the fake model yields the tool-argument fragment that carries the first
  characters of ``pre_exec_msg`` (a ``search_memory`` call written 4 characters at a time) -> the filler
  content chunk written.

The resend case (``--cases resend``) is the one-stream case as LiveKit and Pipecat call a "custom LLM": every request
carries their system prompt and the conversation so far (``--resend-history`` messages of it: the user's lines and
the replies the stream gave), so the server checks the assistant text sent back against what the agent said.

Server CPU per turn is the server process's ``process_time()`` (all its threads) over a phase, divided by its
turns; with ``--profile`` the server runs under cProfile during the N-agent case (``--profile-case``; the raw stats
go next to the text, ``<--profile-out>.pstats``, to compare two runs' call counts) and its store calls are traced;
``--trace-store`` alone traces them without cProfile and splits every content case's pre-LLM time into store calls
(their wait for the store's thread included) and the rest, so a tail can be told apart.

Layout. The server (``bench/http_latency_server.py``: ``create_app`` with a real SQLite file in a temp dir and the
fake model passed through ``Overrides(models=...)``) runs in a subprocess started by this script with ``--serve``;
the load generator (aiohttp client, one keep-alive connection per stream) runs in this process. On a 2-core
machine this keeps the client's JSON/SSE parsing off the server's event loop. ``--in-process`` runs both in one
loop instead.

Clocks. Every timestamp is ``time.perf_counter()``, which on Linux is ``CLOCK_MONOTONIC``: one system-wide
clock, so client and server timestamps subtract directly (checked at start-up).

Server-side stamps (bench app only, nothing in ``voice_letta/`` changes):
* ``arrival``: an outermost middleware, i.e. headers parsed, before auth, error handling and the handler;
* ``model_called`` / ``model_first_yield``: when the agent calls the model's ``stream()`` / when that yields its
  first content (inside the fake model, or in a thin wrapper around the real provider's model);
* ``first_content_out``: after ``StreamResponse.write`` returned for the first chunk with non-empty
  ``delta.content`` (the bytes are in the kernel socket buffer); ``StreamResponse.write`` is wrapped in the
  server process of the bench only. A context variable set by the middleware ties the stamps to a request.

Client-side: ``sent`` just before ``session.post`` (body pre-serialized), ``received`` when the client has
read the SSE line of the first content chunk. The client numbers add loopback TCP, the client's own event
loop and its queueing at N streams, so they are an upper bound; the server-side numbers are the target.

Each concurrent stream uses its own agent (turns of one agent are serialized by design); a "shared agent"
row shows N streams on one agent for reference (it measures the queue behind the agent's lock). Load comes
in bursts: each round starts N requests at the same instant and waits for all (a pessimistic arrival
pattern); ``--arrival closed`` keeps N streams in flight instead (each worker sends its next request when
the previous one ends). All loops are bounded; the server subprocess exits when its stdin closes.

    .venv/bin/python bench/http_latency.py [--model real|instant] [--rounds 20] [--concurrency 50] [--serial 300]
                                           [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_llm import fetch_marks, start_fake_llm, stop_fake_llm
from http_latency_server import BENCH_HEADER, CLOSE_LAST, FILLER_TAG, perf, serve_main, start_server

FAKE_KEY_ENV = "BENCH_FAKE_LLM_KEY"
RESEND_SYSTEM = "You are a helpful voice assistant. Keep answers short; the user hears them spoken."


class Server:
    def __init__(self, url: str, session: aiohttp.ClientSession, fake: tuple[str, int] | None) -> None:
        self.url = url
        self.session = session
        self.counter = 0
        self.fake = fake  # (base URL, control port) of the fake LLM in the real-provider mode
        self.resend = 0  # > 0: each request resends the system prompt and this many messages of the conversation
        self.histories: dict[str, list[dict[str, str]]] = {}  # agent -> the conversation as the client holds it

    async def create_agents(self, n: int, tag: str) -> list[str]:
        out = []
        for i in range(n):
            body: dict[str, Any] = {"name": f"bench-{tag}-{i}"}
            if self.fake is not None:
                body["llm"] = {"provider": "openai", "model": "fake-model", "base_url": self.fake[0],
                               "api_key_env": FAKE_KEY_ENV, "max_retries": 0}
            async with self.session.post(f"{self.url}/v1/agents", json=body) as r:
                assert r.status == 201, await r.text()
                out.append((await r.json())["id"])
        return out

    async def turn(self, agent_id: str, filler: bool) -> tuple[str, dict[str, float]]:
        self.counter += 1
        bench_id = str(self.counter)
        text = f"{FILLER_TAG} Where is my order? ({bench_id})" if filler else f"Hello, request {bench_id}."
        messages: list[dict[str, str]] = [{"role": "user", "content": text}]
        if self.resend:  # as LiveKit and Pipecat do: their system prompt and the conversation so far, every turn
            past = self.histories.setdefault(agent_id, [])
            messages = [{"role": "system", "content": RESEND_SYSTEM}, *past[-self.resend:], *messages]
        body = json.dumps({"model": agent_id, "stream": True, "messages": messages}).encode()
        headers = {BENCH_HEADER: bench_id, "Content-Type": "application/json"}
        first: float | None = None
        said: list[str] = []
        sent = perf()
        async with self.session.post(f"{self.url}/v1/chat/completions", data=body, headers=headers) as r:
            async for line in r.content:
                if first is None and line.startswith(b"data: {") and b'"content":"' in line \
                        and b'"content":""' not in line:
                    first = perf()
                if self.resend and line.startswith(b"data: {"):
                    for choice in json.loads(line[6:]).get("choices") or ():
                        said.append((choice.get("delta") or {}).get("content") or "")
        assert first is not None, f"no content chunk in request {bench_id}"
        if self.resend:
            past += [messages[-1], {"role": "assistant", "content": "".join(said)}]
        return bench_id, {"sent": sent, "received": first, "ended": perf()}

    async def cpu_s(self) -> float:
        return float((await self.counters())["process_s"])

    async def counters(self) -> dict[str, Any]:
        """The server's process CPU and its loop's and store thread's counters (``thread_counters``)."""
        async with self.session.get(f"{self.url}/bench/cpu") as r:
            return dict(await r.json())

    async def idle(self) -> None:
        async with self.session.get(f"{self.url}/bench/idle") as r:
            assert r.status == 200, await r.text()
            await r.read()

    async def marks(self) -> dict[str, dict[str, Any]]:
        async with self.session.get(f"{self.url}/bench/marks") as r:
            marks = dict(await r.json())
        if self.fake is not None:
            for bench_id, stamps in (await fetch_marks(self.fake[1])).items():
                if bench_id in marks:
                    marks[bench_id].update(stamps)
        return marks


async def run_phase(srv: Server, agents: list[str], *, filler: bool, concurrency: int, rounds: int,
                    warmup: int, arrival: str, gap_s: float
                    ) -> tuple[list[dict[str, float]], float, float, dict[str, dict[str, float]]]:
    """Return per-request measurements (stamps merged), the measured wall time, server CPU seconds and the loop's
    and store thread's counters over the phase (``thread_deltas``)."""

    async def burst_round() -> list[tuple[str, dict[str, float]]]:
        return await asyncio.gather(*(srv.turn(agents[i % len(agents)], filler) for i in range(concurrency)))

    async def closed(n_each: int) -> list[tuple[str, dict[str, float]]]:
        async def worker(i: int) -> list[tuple[str, dict[str, float]]]:
            return [await srv.turn(agents[i % len(agents)], filler) for _ in range(n_each)]
        return [x for part in await asyncio.gather(*(worker(i) for i in range(concurrency))) for x in part]

    async def paced(n_each: int) -> list[tuple[str, dict[str, float]]]:
        rng = random.Random(1234)
        starts = [rng.uniform(0, gap_s) for _ in range(concurrency)]
        gaps = [[rng.expovariate(1 / gap_s) for _ in range(n_each)] for _ in range(concurrency)]

        async def worker(i: int) -> list[tuple[str, dict[str, float]]]:
            await asyncio.sleep(starts[i])
            out = []
            for k in range(n_each):
                out.append(await srv.turn(agents[i % len(agents)], filler))
                await asyncio.sleep(gaps[i][k])
            return out
        return [x for part in await asyncio.gather(*(worker(i) for i in range(concurrency))) for x in part]

    for _ in range(warmup):
        await burst_round()
    # The warm-up's turns end (end_turn, upkeep) after their clients read [DONE]: wait for that store work, or the
    # measured phase's first turns queue behind it (50 end_turns ~ 10-15 ms at the start of the paced case).
    await srv.idle()
    await srv.marks()  # drop warm-up stamps
    client: list[tuple[str, dict[str, float]]] = []
    before = await srv.counters()
    t0 = perf()
    if arrival == "closed":
        client = await closed(rounds)
    elif arrival == "paced":
        client = await paced(rounds)
    else:
        for _ in range(rounds):
            client += await burst_round()
    wall = perf() - t0
    after = await srv.counters()
    cpu = float(after["process_s"]) - float(before["process_s"])
    server = await srv.marks()
    merged = []
    for bench_id, stamps in client:
        row = dict(stamps)
        row.update({k: v for k, v in server[bench_id].items() if k != "store"})
        row["store"] = server[bench_id].get("store", [])
        merged.append(row)
    threads = thread_deltas(before["threads"], after["threads"])
    if "gc" in after:
        threads["gc"] = {k: after["gc"][k] - before["gc"][k] for k in after["gc"]}
    return merged, wall, cpu, threads


def thread_deltas(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {name: {k: after[name][k] - before[name][k] for k in after[name]}
            for name in after if after[name] is not None and before.get(name) is not None}


def derive(rows: list[dict[str, Any]], filler: bool) -> dict[str, np.ndarray]:
    ms = 1000.0

    def col(f: Callable[[dict[str, Any]], float]) -> np.ndarray:
        return np.array([f(r) for r in rows]) * ms

    if filler:
        return {
            "server": col(lambda r: r["first_content_out"] - r["model_first_yield"]),
            "client": col(lambda r: r["received"] - r["model_first_yield"]),
        }
    # The model's own time: the fake LLM's, from reading the request to writing its first content (real
    # provider), or the instant model's from being called to its first delta. "model" in the breakdown is
    # model called -> first content back in the agent, i.e. with the provider adapter and HTTP in the real mode.
    if "fake_in" in rows[0]:
        own = col(lambda r: r["fake_first"] - r["fake_in"])
    else:
        own = col(lambda r: r["model_first_yield"] - r["model_called"])
    model = col(lambda r: r["model_first_yield"] - r["model_called"])
    return {
        "server": col(lambda r: r["first_content_out"] - r["arrival"]) - own,
        "client": col(lambda r: r["received"] - r["sent"]) - own,
        "pre_llm": col(lambda r: r["model_called"] - r["arrival"]),
        "post_llm": col(lambda r: r["first_content_out"] - r["model_first_yield"]),
        "model": model,
    }


def fmt_row(name: str, what: str, v: np.ndarray, tput: float | None, cpu_ms: float | None) -> str:
    p50, p90, p99 = np.percentile(v, [50, 90, 99])
    t = f"{tput:.0f}" if tput is not None else ""
    c = f"{cpu_ms:.2f}" if cpu_ms is not None else ""
    return (f"| {name} | {what} | {len(v)} | {p50:.2f} | {p90:.2f} | {p99:.2f} | {v.max():.2f} | {v.mean():.2f} "
            f"| {t} | {c} |")


def store_breakdown(rows: list[dict[str, Any]]) -> str:
    per: dict[str, list[float]] = {}
    for r in rows:
        totals: dict[str, float] = {}
        for name, dur in r["store"]:
            totals[name] = totals.get(name, 0.0) + dur * 1000
        totals["(all store calls)"] = sum(totals.values())
        totals["(pre-LLM total)"] = (r["model_called"] - r["arrival"]) * 1000
        totals["(pre-LLM, not in store calls)"] = totals["(pre-LLM total)"] - totals["(all store calls)"]
        for name, total in totals.items():
            per.setdefault(name, []).append(total)
    calls: dict[str, int] = {}
    for r in rows[:1]:
        for name, _ in r["store"]:
            calls[name] = calls.get(name, 0) + 1
    lines = ["| pre-LLM step (per request) | calls | p50 ms | p90 ms | p99 ms | max ms | mean ms |",
             "|---|---|---|---|---|---|---|"]
    for name, v in sorted(per.items(), key=lambda kv: -float(np.mean(kv[1]))):
        a = np.array(v)
        p50, p90, p99 = np.percentile(a, [50, 90, 99])
        lines.append(f"| {name} | {calls.get(name, '')} | {p50:.2f} | {p90:.2f} | {p99:.2f} | {a.max():.2f} "
                     f"| {a.mean():.2f} |")
    return "\n".join(lines)


async def client_main(args: argparse.Namespace) -> None:
    clock = time.get_clock_info("perf_counter")
    if sys.platform != "linux" or "MONOTONIC" not in clock.implementation:
        sys.exit(f"perf_counter is {clock.implementation}: cross-process stamps need CLOCK_MONOTONIC on Linux")
    proc = None
    runner = None
    tmp = None
    fake_proc = None
    fake: tuple[str, int] | None = None
    real = args.model == "real"
    try:
        if real:
            fake_proc, fake_url, fake_control = await start_fake_llm()
            fake = (fake_url, fake_control)
            os.environ[FAKE_KEY_ENV] = "sk-bench"  # read by the server's provider registry (its process inherits it)
        if args.in_process:
            tmp = tempfile.TemporaryDirectory(prefix="vl-bench-")
            runner, port, inner_store = await start_server(Path(tmp.name), trace_store=args.profile or args.trace_store,
                                                           fragment_chars=args.fragment_chars, burst=args.burst,
                                                           real=real)
        else:
            cmd = [sys.executable, __file__, "--serve", "--fragment-chars", str(args.fragment_chars),
                   "--model", args.model]
            cmd += ["--trace-store"] if args.profile or args.trace_store else []
            cmd += ["--burst"] if args.burst else []
            proc = await asyncio.create_subprocess_exec(*cmd, stdin=asyncio.subprocess.PIPE,
                                                        stdout=asyncio.subprocess.PIPE)
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            port = int(line.split()[1])
        n = args.concurrency
        conn = aiohttp.TCPConnector(limit=n + 8)
        async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=120)) as session:
            srv = Server(f"http://127.0.0.1:{port}", session, fake)
            table = ["| case | measured | n | p50 ms | p90 ms | p99 ms | max ms | mean ms | turns/s "
                     "| server CPU ms/turn |", "|---|---|---|---|---|---|---|---|---|---|"]
            breakdown = ["| case | n | pre-LLM p50 | pre-LLM p99 | post-LLM p50 | post-LLM p99 | model p50 |",
                         "|---|---|---|---|---|---|---|"]
            phases = [
                ("content, 1 stream", False, 1, 1, args.serial, "single"),
                (f"content, 1 stream, history resent ({args.resend_history} messages)", False, 1, 1, args.serial,
                 "resend"),
                (f"content, {n} streams, {n} agents", False, n, n, args.rounds, "many"),
                (f"content, {n} streams, {n} agents, paced", False, n, n, args.paced_rounds, "paced"),
                (f"content, {n} streams, 1 shared agent (ref.)", False, n, 1, args.shared_rounds, "shared"),
                ("filler, 1 stream", True, 1, 1, args.serial, "fsingle"),
                (f"filler, {n} streams, {n} agents", True, n, n, args.rounds, "fmany"),
                (f"filler, {n} streams, {n} agents, paced", True, n, n, args.paced_rounds, "fpaced"),
            ]
            phases = [p for p in phases if args.paced_gap_s > 0 or "paced" not in p[5]]
            if real:  # the filler cases need a model that streams a tool call, which the fake LLM does not
                phases = [p for p in phases if not p[1]]
            if args.cases:
                phases = [p for p in phases if p[5] in args.cases.split(",")]
            threads_table = ["| case | loop CPU ms/turn | loop sleeps/turn | loop preempted/turn | store thread CPU "
                             "ms/turn | store sleeps/turn | store preempted/turn | gc CPU ms/turn "
                             "| gc gen0/gen1/gen2 per turn |",
                             "|---|---|---|---|---|---|---|---|---|"]
            load0 = os.getloadavg()
            profiled: dict[str, list[dict[str, Any]]] = {}
            for name, filler, conc, n_agents, rounds, tag in phases:
                agents = await srv.create_agents(n_agents, tag)
                do_profile = args.profile and tag == args.profile_case
                if do_profile and not args.in_process:
                    async with session.post(f"{srv.url}/bench/profile?action=start&clock={args.profile_clock}") as r:
                        await r.read()
                arrival = "paced" if "paced" in tag else "closed" if conc == 1 else args.arrival
                srv.resend = args.resend_history if tag == "resend" else 0
                rows, wall, cpu, threads = await run_phase(srv, agents, filler=filler, concurrency=conc, rounds=rounds,
                                                  warmup=args.warmup, arrival=arrival, gap_s=args.paced_gap_s)
                if do_profile and not args.in_process:
                    async with session.post(f"{srv.url}/bench/profile",
                                            params={"action": "stop", "dump": f"{args.profile_out}.pstats"}) as r:
                        text = await r.text()
                    await asyncio.to_thread(Path(args.profile_out).write_text, text)
                if (args.profile and tag in ("single", "many")) or (args.trace_store and not filler):
                    profiled[name] = rows
                d = derive(rows, filler)
                tput = len(rows) / wall
                table.append(fmt_row(name, "server-side", d["server"], tput, cpu * 1000 / len(rows)))
                table.append(fmt_row(name, "client-observed", d["client"], None, None))
                per_turn = {t: {k: v / len(rows) for k, v in c.items()} for t, c in threads.items()}
                threads_table.append(f"| {name} | " + " | ".join(
                    f"{c['cpu_s'] * 1000:.3f} | {c['sleeps']:.2f} | {c['preempted']:.2f}" if c else " | | "
                    for c in (per_turn.get("loop"), per_turn.get("store"))) + " | " + (
                    f"{g['cpu_s'] * 1000:.3f} | {g['gen0']:.2f}/{g['gen1']:.2f}/{g['gen2']:.3f}"
                    if (g := per_turn.get("gc")) else " | ") + " |")
                if not filler:
                    p = {k: np.percentile(d[k], [50, 99]) for k in ("pre_llm", "post_llm", "model")}
                    breakdown.append(f"| {name} | {len(rows)} | {p['pre_llm'][0]:.2f} | {p['pre_llm'][1]:.2f} | "
                                     f"{p['post_llm'][0]:.2f} | {p['post_llm'][1]:.2f} | {p['model'][0]:.3f} |")
                print(f"done: {name} ({len(rows)} requests, {wall:.1f} s)", file=sys.stderr, flush=True)
            model = ("OpenAI-compatible fake LLM in its own process, real openai provider" if real
                     else "instant fake ChatModel in the server process")
            print(f"\nmodel: {model}; server: {'same process' if args.in_process else 'subprocess'}; "
                  f"arrival: {args.arrival}; "
                  f"inter-delta: {'back to back' if args.burst else 'yield to loop'}; "
                  f"filler fragments: {args.fragment_chars} chars; cores: {os.cpu_count()}; "
                  f"paced = each stream sends its next turn after an exponential gap, mean {args.paced_gap_s:g} s; "
                  f"load average before/after: {load0[0]:.2f}/{os.getloadavg()[0]:.2f}"
                  f"{'; PROFILING ON (cProfile + store tracing inflate the numbers)' if args.profile else ''}\n")
            print("\n".join(table))
            print("\nContent case, server-side breakdown (ms): pre-LLM = arrival -> model called; "
                  "post-LLM = model's first content delta -> first content chunk written; model = model called -> "
                  "its first content delta (with the provider adapter and HTTP in the real mode)\n")
            print("\n".join(breakdown))
            print("\nThe server's event loop thread and its store thread (aiosqlite's), per turn: CPU from schedstat, "
                  "sleeps = voluntary context switches (waits for work, a lock or the GIL), preempted = "
                  "involuntary; gc = the cyclic collector's CPU (whichever thread ran it) and collections per turn\n")
            print("\n".join(threads_table))
            for name, rows in profiled.items():
                print(f"\nStore calls before the model is called, {name} (time includes queueing):\n")
                print(store_breakdown(rows))
            if args.profile and not args.in_process:
                print(f"\ncProfile of the server during the {args.profile_case} case: {args.profile_out} "
                      f"(raw stats: {args.profile_out}.pstats)")
    finally:
        if proc is not None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if runner is not None:
            await runner.cleanup()
            await inner_store.aclose()
            for closable in CLOSE_LAST:
                await closable.aclose()
        if fake_proc is not None:
            await stop_fake_llm(fake_proc)
        if tmp is not None:
            tmp.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=["real", "instant"], default="real",
                    help="real: OpenAI-compatible fake in its own process behind the real openai provider; "
                    "instant: a fake ChatModel in the server process (the lower bound)")
    ap.add_argument("--cases", default="", help="comma-separated case tags to run (single, resend, many, paced, "
                    "shared, fsingle, fmany, fpaced); default all")
    ap.add_argument("--rounds", type=int, default=20, help="measured rounds of N concurrent streams")
    ap.add_argument("--concurrency", type=int, default=50, help="N concurrent streams")
    ap.add_argument("--serial", type=int, default=300, help="sequential requests of the 1-stream cases")
    ap.add_argument("--resend-history", type=int, default=40,
                    help="messages of the conversation the resend case sends back with each request (LiveKit, Pipecat)")
    ap.add_argument("--shared-rounds", type=int, default=5, help="rounds of the shared-agent reference case")
    ap.add_argument("--paced-rounds", type=int, default=10, help="turns per stream of the paced cases")
    ap.add_argument("--paced-gap-s", type=float, default=1.0, help="mean gap between turns of a paced stream "
                    "(0 skips the paced cases)")
    ap.add_argument("--warmup", type=int, default=2, help="unmeasured rounds before each case")
    ap.add_argument("--arrival", choices=["burst", "closed"], default="burst")
    ap.add_argument("--fragment-chars", type=int, default=4, help="size of the tool-argument fragments")
    ap.add_argument("--burst", action="store_true", help="fake model yields deltas back to back (no loop yield)")
    ap.add_argument("--in-process", action="store_true", help="server and load generator in one event loop")
    ap.add_argument("--profile", action="store_true",
                    help="cProfile the server and trace store calls during the N-agent content case")
    ap.add_argument("--profile-out", default="/tmp/vl-http-latency-profile.txt")
    ap.add_argument("--profile-clock", choices=("wall", "cpu"), default="cpu",
                    help="cpu: the event-loop thread's CPU time (default); wall: wall time, GIL waits included")
    ap.add_argument("--profile-case", default="many", help="the case tag --profile profiles (default many)")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tick-s", type=float, default=None, help=argparse.SUPPRESS)  # http_instructions.py
    ap.add_argument("--trace-store", action="store_true",
                    help="time the server's store calls before the model is called (no cProfile) and split each "
                    "content case's pre-LLM time into store calls (their wait for the store's thread included) "
                    "and the rest")
    args = ap.parse_args()
    if not 0 <= args.paced_gap_s <= 10:
        ap.error("--paced-gap-s must be between 0 and 10")
    for name in ("rounds", "concurrency", "serial", "shared_rounds", "paced_rounds"):
        if not 1 <= getattr(args, name) <= 10_000:
            ap.error(f"--{name.replace('_', '-')} must be between 1 and 10000")
    asyncio.run(serve_main(args) if args.serve else client_main(args))


if __name__ == "__main__":
    main()
