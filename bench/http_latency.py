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

Server CPU per turn is the server process's ``process_time()`` (all its threads) over a phase, divided by its
turns; with ``--profile`` the server runs under cProfile during the N-agent case and its store calls are traced.

Layout. The server (``create_app`` with a real SQLite file in a temp dir and the fake model passed through
``Overrides(models=...)``) runs in a subprocess started by this script with ``--serve``; the load generator
(aiohttp client, one keep-alive connection per stream) runs in this process. On a 2-core machine this keeps
the client's JSON/SSE parsing off the server's event loop. ``--in-process`` runs both in one loop instead.

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
import contextlib
import contextvars
import cProfile
import io
import json
import os
import pstats
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_llm import fetch_marks, start_fake_llm, stop_fake_llm

from voice_letta.agent.models import LLMConfig, Message, Usage
from voice_letta.agent.ports import ChatDelta, ChatModel, ChatRequest, Store, ToolCallDelta
from voice_letta.config import ServerConfig
from voice_letta.server.app import Overrides, create_app

perf = time.perf_counter
FILLER_TAG = "[filler]"
FILLER_TEXT = "Let me check my notes from our earlier conversations, one moment."
REPLY = ("Sure.", " Here is the answer.")
BENCH_HEADER = "X-Bench-Id"
SERVER_LIFETIME_S = 1800.0  # the server subprocess stops by itself after this, whatever happens

# ---------------------------------------------------------------------------------------------------------
# Server side (runs in the subprocess, or in this process with --in-process)
# ---------------------------------------------------------------------------------------------------------

CLOSE_LAST: list[Any] = []  # closed after the runner (the real provider registry and its HTTP clients)
MARKS: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("bench_marks")
RESULTS: dict[str, dict[str, Any]] = {}


class InstantModel:
    """Answers at once. A user message containing FILLER_TAG gets a search_memory call, else two deltas."""

    def __init__(self, fragment_chars: int, burst: bool) -> None:
        self.fragment_chars = fragment_chars
        self.burst = burst  # True: deltas back to back; False: yield to the loop between deltas, as a
        # network stream does when the next delta has not arrived yet

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        marks = MARKS.get(None)
        if marks is not None:
            marks.setdefault("model_called", perf())
        last = request.messages[-1]
        usage = Usage(prompt_tokens=100, completion_tokens=10, total_tokens=110)
        if last.role == "user" and FILLER_TAG in (last.content or ""):
            args = json.dumps({"pre_exec_msg": FILLER_TEXT, "convo_keyword_queries": ["order"],
                               "start_minutes_ago": None, "end_minutes_ago": None})
            value_at = args.index(FILLER_TEXT)
            n = self.fragment_chars
            for i in range(0, len(args), n):
                frag = (ToolCallDelta(0, id="call_bench", name="search_memory", arguments=args[i:i + n]) if i == 0
                        else ToolCallDelta(0, arguments=args[i:i + n]))
                if marks is not None and i + n > value_at and "model_first_yield" not in marks:
                    marks["model_first_yield"] = perf()
                yield ChatDelta(tool_calls=(frag,))
                if not self.burst:
                    await asyncio.sleep(0)
            yield ChatDelta(finish_reason="tool_calls", usage=usage)
            return
        for i, text in enumerate(REPLY):
            if marks is not None and i == 0:
                marks.setdefault("model_first_yield", perf())
            yield ChatDelta(content=text)
            if not self.burst:
                await asyncio.sleep(0)
        yield ChatDelta(finish_reason="stop", usage=usage)

    async def aclose(self) -> None:
        return None


class TracingModel:
    """The real provider's model with the two stamps the instant model takes itself."""

    def __init__(self, inner: ChatModel) -> None:
        self.inner = inner

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        marks = MARKS.get(None)
        if marks is not None:
            marks.setdefault("model_called", perf())
        async for delta in self.inner.stream(request):
            if marks is not None and delta.content and "model_first_yield" not in marks:
                marks["model_first_yield"] = perf()
            yield delta

    async def aclose(self) -> None:
        await self.inner.aclose()


class TracingModels:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.models: dict[int, TracingModel] = {}

    def for_config(self, config: LLMConfig) -> ChatModel:
        model = self.inner.for_config(config)
        traced = self.models.get(id(model))
        if traced is None:
            traced = self.models[id(model)] = TracingModel(model)
        return traced

    async def aclose(self) -> None:
        await self.inner.aclose()


class BufferOnlyMemory:
    """The voice agent's buffer limits without the sleeptime agent: above 30 in-context messages, evict down to
    the newest 15 (the defaults), as the real memory layer does, minus archiving. Runs after the reply."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def turn_completed(self, agent_id: str, window: Sequence[Message] | None = None) -> None:
        if window is None:
            window = await self.store.list_messages(agent_id, in_context=True)
        if len(window) > 30:
            await self.store.evict_messages(agent_id, through_seq=window[-16].seq)

    async def session_ended(self, agent_id: str) -> None:
        return None


class InstantModels:
    def __init__(self, model: InstantModel) -> None:
        self.model = model

    def for_config(self, config: LLMConfig) -> ChatModel:
        return self.model


class TracingStore:
    """Store proxy (profile mode): records each store call made before the model is called."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not asyncio.iscoroutinefunction(attr):
            return attr

        async def traced(*args: Any, **kwargs: Any) -> Any:
            t0 = perf()
            try:
                return await attr(*args, **kwargs)
            finally:
                marks = MARKS.get(None)
                if marks is not None and "model_called" not in marks:
                    marks.setdefault("store", []).append((name, perf() - t0))

        return traced


@web.middleware
async def bench_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                           ) -> web.StreamResponse:
    arrival = perf()
    bench_id = request.headers.get(BENCH_HEADER)
    if bench_id is None:
        return await handler(request)
    marks: dict[str, Any] = {"arrival": arrival}
    # Registered up front: the handler returns only after the agent's post-reply memory upkeep, which can end
    # after the client has read [DONE] and asked for the marks.
    RESULTS[bench_id] = marks
    token = MARKS.set(marks)
    try:
        return await handler(request)
    finally:
        marks["done"] = perf()
        MARKS.reset(token)


def patch_stream_write() -> None:
    original, original_eof = web.StreamResponse.write, web.StreamResponse.write_eof

    def stamp(data: bytes | bytearray | memoryview) -> None:
        marks = MARKS.get(None)
        if marks is not None and "first_content_out" not in marks:
            raw = bytes(data)
            if b'"content":"' in raw and b'"content":""' not in raw:
                marks["first_content_out"] = perf()

    async def write(self: web.StreamResponse, data: bytes | bytearray | memoryview) -> None:
        await original(self, data)
        stamp(data)

    async def write_eof(self: web.StreamResponse, data: bytes = b"") -> None:  # the last events may come with it
        await original_eof(self, data)
        stamp(data)

    web.StreamResponse.write = write  # type: ignore[method-assign]
    web.StreamResponse.write_eof = write_eof  # type: ignore[method-assign]


async def start_server(db_dir: Path, *, trace_store: bool, fragment_chars: int, burst: bool, real: bool
                       ) -> tuple[web.AppRunner, int, Store]:
    from voice_letta.store import open_store
    from voice_letta.store.cache import CachingStore

    patch_stream_write()
    inner = await open_store(db_dir / "voice.db")
    # as create_app does: agents cached in front of the store (the bench passes its own store to trace it)
    cached = CachingStore(inner)
    store: Store = TracingStore(cached) if trace_store else cached
    cfg = ServerConfig(db_path=db_dir / "voice.db", api_key=None, enable_sandbox=False)
    # The sleeptime agent is off (it would ask this instant fake for tool calls it never makes); the buffer
    # limits stay on, so one agent's context does not grow without bound over hundreds of turns.
    models: Any
    if real:
        from voice_letta.server.providers_glue import build_registry

        models = TracingModels(build_registry())
    else:
        models = InstantModels(InstantModel(fragment_chars, burst))
    app = create_app(cfg, Overrides(store=store, models=models, memory=BufferOnlyMemory(store)))
    app.middlewares.insert(0, bench_middleware)  # outermost: stamps arrival before any other work
    profiler: list[cProfile.Profile] = []

    async def marks(request: web.Request) -> web.Response:
        out = dict(RESULTS)
        RESULTS.clear()
        return web.json_response(out)

    async def profile(request: web.Request) -> web.Response:
        if request.query.get("action") == "start":
            profiler[:] = [cProfile.Profile()]
            profiler[0].enable()
            return web.json_response({"ok": True})
        prof = profiler.pop()
        prof.disable()
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(25)
        return web.Response(text=buf.getvalue())

    async def cpu(request: web.Request) -> web.Response:
        return web.json_response({"process_s": time.process_time()})

    app.router.add_get("/bench/marks", marks)
    app.router.add_get("/bench/cpu", cpu)
    app.router.add_post("/bench/profile", profile)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    if real:
        CLOSE_LAST.append(models)
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port, inner


async def serve_main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="vl-bench-") as tmp:
        runner, port, store = await start_server(Path(tmp), trace_store=args.trace_store,
                                                 fragment_chars=args.fragment_chars, burst=args.burst,
                                                 real=args.model == "real")
        print(f"PORT {port}", flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SERVER_LIFETIME_S):
                await reader.read()  # EOF: the parent closed our stdin (or died)
        await runner.cleanup()
        await store.aclose()
        for closable in CLOSE_LAST:
            await closable.aclose()


# ---------------------------------------------------------------------------------------------------------
# Client side (load generator)
# ---------------------------------------------------------------------------------------------------------


FAKE_KEY_ENV = "BENCH_FAKE_LLM_KEY"


class Server:
    def __init__(self, url: str, session: aiohttp.ClientSession, fake: tuple[str, int] | None) -> None:
        self.url = url
        self.session = session
        self.counter = 0
        self.fake = fake  # (base URL, control port) of the fake LLM in the real-provider mode

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
        body = json.dumps({"model": agent_id, "stream": True,
                           "messages": [{"role": "user", "content": text}]}).encode()
        headers = {BENCH_HEADER: bench_id, "Content-Type": "application/json"}
        first: float | None = None
        sent = perf()
        async with self.session.post(f"{self.url}/v1/chat/completions", data=body, headers=headers) as r:
            async for line in r.content:
                if first is None and line.startswith(b"data: {") and b'"content":"' in line \
                        and b'"content":""' not in line:
                    first = perf()
        assert first is not None, f"no content chunk in request {bench_id}"
        return bench_id, {"sent": sent, "received": first, "ended": perf()}

    async def cpu_s(self) -> float:
        async with self.session.get(f"{self.url}/bench/cpu") as r:
            return float((await r.json())["process_s"])

    async def marks(self) -> dict[str, dict[str, Any]]:
        async with self.session.get(f"{self.url}/bench/marks") as r:
            marks = dict(await r.json())
        if self.fake is not None:
            for bench_id, stamps in (await fetch_marks(self.fake[1])).items():
                if bench_id in marks:
                    marks[bench_id].update(stamps)
        return marks


async def run_phase(srv: Server, agents: list[str], *, filler: bool, concurrency: int, rounds: int,
                    warmup: int, arrival: str, gap_s: float) -> tuple[list[dict[str, float]], float, float]:
    """Return per-request measurements (stamps merged), the measured wall time and server CPU seconds."""

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
    await srv.marks()  # drop warm-up stamps
    client: list[tuple[str, dict[str, float]]] = []
    cpu0 = await srv.cpu_s()
    t0 = perf()
    if arrival == "closed":
        client = await closed(rounds)
    elif arrival == "paced":
        client = await paced(rounds)
    else:
        for _ in range(rounds):
            client += await burst_round()
    wall = perf() - t0
    cpu = await srv.cpu_s() - cpu0
    server = await srv.marks()
    merged = []
    for bench_id, stamps in client:
        row = dict(stamps)
        row.update({k: v for k, v in server[bench_id].items() if k != "store"})
        row["store"] = server[bench_id].get("store", [])
        merged.append(row)
    return merged, wall, cpu


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
        for name, total in totals.items():
            per.setdefault(name, []).append(total)
    calls: dict[str, int] = {}
    for r in rows[:1]:
        for name, _ in r["store"]:
            calls[name] = calls.get(name, 0) + 1
    lines = ["| pre-LLM step (per request) | calls | p50 ms | p99 ms | mean ms |", "|---|---|---|---|---|"]
    for name, v in sorted(per.items(), key=lambda kv: -float(np.mean(kv[1]))):
        a = np.array(v)
        p50, p99 = np.percentile(a, [50, 99])
        lines.append(f"| {name} | {calls.get(name, '')} | {p50:.2f} | {p99:.2f} | {a.mean():.2f} |")
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
            runner, port, inner_store = await start_server(Path(tmp.name), trace_store=args.profile,
                                                           fragment_chars=args.fragment_chars, burst=args.burst,
                                                           real=real)
        else:
            cmd = [sys.executable, __file__, "--serve", "--fragment-chars", str(args.fragment_chars),
                   "--model", args.model]
            cmd += ["--trace-store"] if args.profile else []
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
            load0 = os.getloadavg()
            profiled: dict[str, list[dict[str, Any]]] = {}
            for name, filler, conc, n_agents, rounds, tag in phases:
                agents = await srv.create_agents(n_agents, tag)
                do_profile = args.profile and tag == args.profile_case
                if do_profile and not args.in_process:
                    async with session.post(f"{srv.url}/bench/profile?action=start") as r:
                        await r.read()
                arrival = "paced" if "paced" in tag else "closed" if conc == 1 else args.arrival
                rows, wall, cpu = await run_phase(srv, agents, filler=filler, concurrency=conc, rounds=rounds,
                                                  warmup=args.warmup, arrival=arrival, gap_s=args.paced_gap_s)
                if do_profile and not args.in_process:
                    async with session.post(f"{srv.url}/bench/profile?action=stop") as r:
                        text = await r.text()
                    await asyncio.to_thread(Path(args.profile_out).write_text, text)
                if args.profile and tag in ("single", "many"):
                    profiled[name] = rows
                d = derive(rows, filler)
                tput = len(rows) / wall
                table.append(fmt_row(name, "server-side", d["server"], tput, cpu * 1000 / len(rows)))
                table.append(fmt_row(name, "client-observed", d["client"], None, None))
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
            for name, rows in profiled.items():
                print(f"\nStore calls before the model is called, {name} (time includes queueing):\n")
                print(store_breakdown(rows))
            if profiled and not args.in_process:
                print(f"\ncProfile of the server during the {n}-agent content case: {args.profile_out}")
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
    ap.add_argument("--cases", default="", help="comma-separated case tags to run (single, many, paced, shared, "
                    "fsingle, fmany, fpaced); default all")
    ap.add_argument("--rounds", type=int, default=20, help="measured rounds of N concurrent streams")
    ap.add_argument("--concurrency", type=int, default=50, help="N concurrent streams")
    ap.add_argument("--serial", type=int, default=300, help="sequential requests of the 1-stream cases")
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
    ap.add_argument("--profile-case", default="many", help="the case tag --profile profiles (default many)")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--trace-store", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not 0 <= args.paced_gap_s <= 10:
        ap.error("--paced-gap-s must be between 0 and 10")
    for name in ("rounds", "concurrency", "serial", "shared_rounds", "paced_rounds"):
        if not 1 <= getattr(args, name) <= 10_000:
            ap.error(f"--{name.replace('_', '-')} must be between 1 and 10000")
    asyncio.run(serve_main(args) if args.serve else client_main(args))


if __name__ == "__main__":
    main()
