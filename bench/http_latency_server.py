"""The server side of ``bench/http_latency.py``: the bench app (real ``create_app`` with a SQLite file, the fake or
real model, timing stamps and store tracing), run in the subprocess started with ``--serve`` or in the load
generator's process with ``--in-process``. Nothing here changes ``voice_letta/``; the stamps are the bench's own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import cProfile
import gc
import io
import json
import pstats
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


from bench_common import until_stdin_closes

from voice_letta.agent.models import AgentState, LLMConfig, Message, Usage
from voice_letta.agent.ports import ChatDelta, ChatModel, ChatRequest, Store, ToolCallDelta
from voice_letta.config import ServerConfig
from voice_letta.server import stream_watch
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
# Bench requests whose handler has not returned: a streamed turn's end (end_turn) and memory upkeep run after its
# client read [DONE], so a phase that starts right after another's last stream ended would meet their store work.
IN_FLIGHT: list[int] = [0]
IDLE = asyncio.Event()  # set while IN_FLIGHT is 0
IDLE_WAIT_S = 10.0


def thread_counters(tid: int) -> dict[str, float]:
    """One thread's CPU seconds (``schedstat``: ns on a CPU, not tick-rounded) and how often it went to sleep
    (voluntary switches: every wait for a queue, a lock or the GIL) or was pushed off a CPU (involuntary)."""
    base = f"/proc/self/task/{tid}"
    with open(f"{base}/schedstat") as f:
        on_cpu_ns = int(f.read().split()[0])
    switches: dict[str, float] = {}
    with open(f"{base}/status") as f:
        for line in f:
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                key, value = line.split(":")
                switches[key.split("_")[0]] = float(value)
    return {"cpu_s": on_cpu_ns / 1e9, "sleeps": switches.get("voluntary", 0.0),
            "preempted": switches.get("nonvoluntary", 0.0)}


GC_STATS: dict[str, float] = {"cpu_s": 0.0, "gen0": 0.0, "gen1": 0.0, "gen2": 0.0}
_GC_STARTED: list[float] = []


def _gc_timer(phase: str, info: dict[str, int]) -> None:
    """CPU the collector takes (on whichever thread allocation triggered it) and how many collections of each
    generation ran: allocation churn per turn shows up here."""
    if phase == "start":
        _GC_STARTED[:] = [time.thread_time()]
    elif _GC_STARTED:
        GC_STATS["cpu_s"] += time.thread_time() - _GC_STARTED.pop()
        GC_STATS[f"gen{info['generation']}"] += 1


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

    def check(self, config: LLMConfig) -> None:
        self.inner.check(config)

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

    def upkeep_due(self, agent: AgentState, window: Sequence[Message]) -> bool:
        """As ``MemoryManager.upkeep_due``: the voice loop calls ``turn_completed`` only when this says so."""
        return len(window) > 30

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

    def check(self, config: LLMConfig) -> None:
        return None


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
    IN_FLIGHT[0] += 1
    IDLE.clear()
    try:
        return await handler(request)
    finally:
        IN_FLIGHT[0] -= 1
        if not IN_FLIGHT[0]:
            IDLE.set()
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
            # clock=cpu: the loop thread's own CPU time (wall time counts the waits for the GIL inside send()
            # and queue puts as if they were work)
            cpu_clock = request.query.get("clock") == "cpu"
            profiler[:] = [cProfile.Profile(time.thread_time) if cpu_clock else cProfile.Profile()]
            profiler[0].enable()
            return web.json_response({"ok": True})
        prof = profiler.pop()
        prof.disable()
        if request.query.get("dump"):  # the raw stats too, to compare two runs' call counts (pstats)
            prof.dump_stats(request.query["dump"])
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(25)
        return web.Response(text=buf.getvalue())

    async def idle(request: web.Request) -> web.Response:
        """Return once every bench request's handler has returned (turn ends and upkeep stored), at most after
        IDLE_WAIT_S; says how long it waited."""
        t0 = perf()
        if IN_FLIGHT[0]:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(IDLE.wait(), IDLE_WAIT_S)
        return web.json_response({"waited_s": perf() - t0, "in_flight": IN_FLIGHT[0]})

    conn = getattr(inner, "_db", None)  # SQLite: aiosqlite's connection, whose thread runs every statement
    store_tid = getattr(getattr(conn, "_thread", conn), "native_id", None)

    if _gc_timer not in gc.callbacks:
        gc.callbacks.append(_gc_timer)

    async def cpu(request: web.Request) -> web.Response:
        return web.json_response({"process_s": time.process_time(), "gc": dict(GC_STATS), "threads": {
            "loop": thread_counters(threading.get_native_id()),
            "store": thread_counters(store_tid) if store_tid is not None else None}})

    app.router.add_get("/bench/marks", marks)
    app.router.add_get("/bench/cpu", cpu)
    app.router.add_get("/bench/idle", idle)
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
    if getattr(args, "tick_s", None):
        # bench/http_instructions.py: the disconnect ticker's period scaled by valgrind's slowdown, so a stream's ticks
        # per turn are what they are at full speed (none for a turn shorter than a tick)
        stream_watch.DISCONNECT_POLL_S = args.tick_s
    with tempfile.TemporaryDirectory(prefix="vl-bench-") as tmp:
        runner, port, store = await start_server(Path(tmp), trace_store=args.trace_store,
                                                 fragment_chars=args.fragment_chars, burst=args.burst,
                                                 real=args.model == "real")
        print(f"PORT {port}", flush=True)
        await until_stdin_closes(SERVER_LIFETIME_S)
        await runner.cleanup()
        await store.aclose()
        for closable in CLOSE_LAST:
            await closable.aclose()


# ---------------------------------------------------------------------------------------------------------
# Client side (load generator)
# ---------------------------------------------------------------------------------------------------------
