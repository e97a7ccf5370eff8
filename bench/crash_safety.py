"""Crash safety: N trials of kill -9 at a random moment of a real server's work, on one database.

Each trial drives the server as a voice framework would (streaming chat completions that resend the whole
history; a request cut by a crash is sent again, unchanged, once the server is back), kills the server with
SIGKILL at one of four moments, then checks and restarts it:

- ``before_first_chunk``: while the model has not answered yet (the fake LLM waits 0.3 s before its first token);
- ``mid_stream``: after the first words of the reply reached the client;
- ``after_end``: just after ``[DONE]``, while the server stores and does memory upkeep;
- ``sleeptime_job``: while a memory job (eviction hand-off to the sleeptime agent) runs; the agent's buffer is
  small so jobs are frequent, and the fake sleeptime model is slow.

Counted, target 0 of each:

- **lost**: user messages of requests that got at least one SSE event from the server, missing at the end;
- **duplicated**: user messages stored more than once (every request's text is unique, and a cut request is
  retried with the same messages, as LiveKit does);
- **leftover processes**: processes of the killed server (its environment carries this run's tag, or its
  command line names this run's directory: the tool sandbox, the background embedding process,
  multiprocessing's resource tracker, workers) still alive 3 s after the kill; with ``--workers``, 3 s after a
  worker's graceful drain could have ended (a worker told of its supervisor's death by SIGTERM finishes its turns
  in flight, at most ``shutdown_timeout_s``, 10 s); the time until every one was gone is reported too;
- **failed starts**: a restart not ready (``GET /ready`` 200) within 60 s;
- **integrity failures**: ``PRAGMA integrity_check`` of the SQLite file between the kill and the restart;
- **memory jobs not done once**: at the end, jobs not ``done``, or jobs whose passages were written more than
  once.

The fake LLM runs in its own process; only 127.0.0.1 is used; every loop is bounded.

    .venv/bin/python bench/crash_safety.py --trials 100 --seed 7
    .venv/bin/python bench/crash_safety.py --trials 10 --workers 2      # kill the supervisor of two workers
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_common import free_port  # noqa: E402
from crash_fake_llm import FIRST_TOKEN_S, SLEEPTIME_STEP_S, fake_llm  # noqa: E402

MOMENTS = ("before_first_chunk", "mid_stream", "after_end", "sleeptime_job")
TAG_ENV = "VOICE_LETTA_CRASH_BENCH"
READY_TIMEOUT_S = 60.0
LEFTOVER_WAIT_S = 3.0
# With --workers, the supervisor's death reaches each worker as SIGTERM: it stops accepting at once and lets its
# turns in flight finish (the graceful shutdown, at most shutdown_timeout_s = 10 s by default) before it exits.
WORKER_DRAIN_S = 10.0


# --- the bench (its fake LLM: bench/crash_fake_llm.py) -----------------------------------------------------------
@dataclass
class Counts:
    trials: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MOMENTS, 0))
    leftover: int = 0
    leftover_kinds: dict[str, int] = field(default_factory=dict)
    gone_s: list[float] = field(default_factory=list)  # from the kill until no process of it was left
    failed_starts: int = 0
    integrity_failures: int = 0
    start_s: list[float] = field(default_factory=list)
    requests_with_event: set[str] = field(default_factory=set)
    retries: int = 0
    cut_before_event: int = 0


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path, llm_url: str) -> None:
        self.args = args
        self.tmp = tmp
        self.db = tmp / "voice.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.llm_url = llm_url
        self.tag = uuid.uuid4().hex
        self.proc: asyncio.subprocess.Process | None = None
        self.counts = Counts()
        self.rng = random.Random(args.seed)
        self.history: list[dict[str, str]] = []
        self.n = 0
        self.agent_id = ""
        self.log = open(args.server_log, "ab") if args.server_log else None  # noqa: SIM115 (open for the run)

    # --- server -----------------------------------------------------------------------------------------
    async def start(self) -> None:
        import aiohttp

        env = {**os.environ, TAG_ENV: self.tag, "BENCH_LLM_KEY": "sk-fake", "HF_HUB_OFFLINE": "1",
               "OPENBLAS_NUM_THREADS": "1"}
        env.pop("VOICE_LETTA_API_KEY", None)
        started = time.monotonic()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voice_letta.cli", "serve", "--port", str(self.port), "--db", str(self.db),
            "--no-preload", "--no-default-agent", "--workers", str(self.args.workers), cwd=ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=self.log or asyncio.subprocess.DEVNULL, start_new_session=True)
        async with aiohttp.ClientSession() as s:
            while time.monotonic() - started < READY_TIMEOUT_S:
                try:
                    async with s.get(f"{self.url}/ready") as r:
                        if r.status == 200:
                            self.counts.start_s.append(time.monotonic() - started)
                            return
                except aiohttp.ClientError:
                    pass
                if self.proc.returncode is not None:
                    break
                await asyncio.sleep(0.05)
        self.counts.failed_starts += 1
        raise RuntimeError("the server did not become ready")

    def kill(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.proc.pid, signal.SIGKILL)

    def leftovers(self) -> list[tuple[int, str]]:
        """Processes of the killed server still alive (not zombies)."""
        found = []
        me = os.getpid()
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    environ = f.read()
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
                with open(f"/proc/{entry}/stat") as f:
                    state = f.read().rsplit(")", 1)[-1].split()[0]
            except OSError:
                continue
            if state == "Z" or "crash_safety.py --fake" in cmdline:
                continue
            if self.tag.encode() in environ or str(self.tmp) in cmdline:
                found.append((int(entry), cmdline[:120]))
        return found

    def integrity_ok(self) -> bool:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            return bool(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
        finally:
            conn.close()

    async def after_kill(self) -> None:
        assert self.proc is not None
        await self.proc.wait()
        killed = time.monotonic()
        limit = LEFTOVER_WAIT_S + (WORKER_DRAIN_S if self.args.workers > 1 else 0.0)
        for _ in range(int(limit / 0.1)):  # polled: another process's exit has no event to wait on
            if not (left := self.leftovers()):
                break
            await asyncio.sleep(0.1)
        else:
            left = self.leftovers()
        if not left:
            self.counts.gone_s.append(time.monotonic() - killed)
        self.counts.leftover += len(left)
        if left and self.args.verbose:
            print(f"left after {limit:g} s: {left}", flush=True)
        for pid, cmd in left:
            kind = "embedding" if "multiprocessing" in cmd and "resource_tracker" not in cmd else \
                "resource_tracker" if "resource_tracker" in cmd else "sandbox" if "tool_server" in cmd else cmd[:40]
            self.counts.leftover_kinds[kind] = self.counts.leftover_kinds.get(kind, 0) + 1
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if not self.integrity_ok():
            self.counts.integrity_failures += 1
        await self.start()

    # --- client -----------------------------------------------------------------------------------------
    async def setup_agent(self) -> None:
        import aiohttp

        llm = {"provider": "openai", "model": "fake-model", "base_url": self.llm_url, "api_key_env": "BENCH_LLM_KEY"}
        body = {"name": "crash-bench", "llm": llm, "sleeptime_llm": {**llm, "model": "fake-sleeptime"},
                "buffer": {"max_messages": 8, "min_messages": 5}}
        async with aiohttp.ClientSession() as s, s.post(f"{self.url}/v1/agents", json=body) as r:
            assert r.status == 201, await r.text()
            self.agent_id = (await r.json())["id"]

    async def turn(self, text: str, *, kill_at: str | None = None, delay_s: float = 0.0) -> str | None:
        """One request; with ``kill_at``, SIGKILL the server at that moment. Returns the reply, None if cut."""
        import aiohttp

        messages = [*self.history, {"role": "user", "content": text}]
        reply: list[str] = []
        got_event = False
        timeout = aiohttp.ClientTimeout(total=60)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as s, s.post(
                    f"{self.url}/v1/chat/completions",
                    json={"model": self.agent_id, "stream": True, "messages": messages}) as r:
                if kill_at == "before_first_chunk":
                    asyncio.get_running_loop().call_later(delay_s, self.kill)
                if r.status != 200:
                    return None
                async for raw in r.content:
                    line = raw.decode().strip()
                    if not line.startswith("data: "):
                        continue
                    got_event = True
                    self.counts.requests_with_event.add(text)
                    if line == "data: [DONE]":
                        if kill_at == "after_end":
                            await asyncio.sleep(delay_s)
                            self.kill()
                            return None
                        return "".join(reply).strip()
                    event = json.loads(line[6:])
                    for choice in event.get("choices", []):
                        content = choice["delta"].get("content")
                        if content:
                            reply.append(content)
                            if kill_at == "mid_stream" and len(reply) == 1:
                                asyncio.get_running_loop().call_later(delay_s, self.kill)
        except (TimeoutError, aiohttp.ClientError):
            pass
        if not got_event:
            self.counts.cut_before_event += 1
        return None

    async def say(self, text: str) -> None:
        """Send until answered (a request cut by a crash is sent again, unchanged, as frameworks retry)."""
        for attempt in range(20):
            reply = await self.turn(text)
            if reply is not None:
                self.history += [{"role": "user", "content": text}, {"role": "assistant", "content": reply}]
                return
            self.counts.retries += attempt == 0
            await asyncio.sleep(0.5)
        raise RuntimeError(f"no answer to {text!r}")

    def next_text(self) -> str:
        self.n += 1
        return f"Note {self.n}: remember the number {self.rng.randint(1000, 9999)}."

    async def job_running(self) -> bool:
        import aiohttp

        async with aiohttp.ClientSession() as s, s.get(f"{self.url}/v1/agents/{self.agent_id}/memory/jobs") as r:
            jobs = (await r.json())["data"]
        return any(j["status"] == "running" for j in jobs)

    async def trial(self, i: int) -> None:
        moment = MOMENTS[i % len(MOMENTS)] if self.args.round_robin else self.rng.choice(MOMENTS)
        self.counts.trials[moment] += 1
        text = self.next_text()
        if moment == "sleeptime_job":
            for _ in range(12):  # talk until the buffer overflows and a hand-off job runs
                if await self.job_running():
                    break
                await self.say(text)
                text = self.next_text()
                await asyncio.sleep(0.2)
            await asyncio.sleep(self.rng.uniform(0, SLEEPTIME_STEP_S * 2))
            self.kill()
            await self.after_kill()
            await self.say(text)
            return
        delay = {"before_first_chunk": self.rng.uniform(0, FIRST_TOKEN_S + 0.05),
                 "mid_stream": self.rng.uniform(0, 0.6), "after_end": self.rng.uniform(0, 0.3)}[moment]
        await self.turn(text, kill_at=moment, delay_s=delay)
        await self.after_kill()
        await self.say(text)  # the client sends the cut request again

    # --- the end ----------------------------------------------------------------------------------------
    async def final_check(self) -> dict[str, Any]:
        import aiohttp

        async with aiohttp.ClientSession() as s:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:  # let the memory jobs finish
                async with s.get(f"{self.url}/v1/agents/{self.agent_id}/memory/jobs?limit=1000") as r:
                    jobs = (await r.json())["data"]
                if all(j["status"] in ("done", "failed") for j in jobs):
                    break
                await asyncio.sleep(0.5)
            async with s.get(f"{self.url}/v1/agents/{self.agent_id}/messages?limit=10000") as r:
                rows = (await r.json())["data"]
        users = [m["content"] for m in rows if m["role"] == "user"]
        expected = [f"Note {k}:" for k in range(1, self.n + 1)]
        stored = {e: sum(1 for u in users if u.startswith(e + " ")) for e in expected}
        sent_with_event = {t.split(" remember")[0] for t in self.counts.requests_with_event}
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            per_job = conn.execute("SELECT job_id, count(*) FROM passages WHERE job_id IS NOT NULL "
                                   "GROUP BY job_id").fetchall()
            failures = [int(r[0]) for r in conn.execute("SELECT attempts - crashes FROM memory_jobs")]
        finally:
            conn.close()
        return {
            "messages": self.n,
            "lost": sum(1 for e in expected if stored[e] == 0 and e in sent_with_event),
            "missing_never_answered": sum(1 for e in expected if stored[e] == 0 and e not in sent_with_event),
            "duplicated": sum(1 for e in expected if stored[e] > 1),
            "jobs": len(jobs), "jobs_done": sum(j["status"] == "done" for j in jobs),
            "jobs_not_done": sum(j["status"] != "done" for j in jobs),
            "jobs_written_twice": sum(1 for _, n in per_job if n > 1),
            "job_runs": sorted({j["attempts"] for j in jobs}),  # crash re-runs included
            "job_failed_attempts_max": max(failures, default=0),  # what counts against the retry limit
        }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    fake = await asyncio.create_subprocess_exec(sys.executable, __file__, "--fake", stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE)
    assert fake.stdout is not None and fake.stdin is not None
    port = int((await fake.stdout.readline()).split()[1])
    tmp = Path(tempfile.mkdtemp(prefix="crash-bench-"))
    bench = Bench(args, tmp, f"http://127.0.0.1:{port}/v1")
    load = os.getloadavg()
    started = time.monotonic()
    try:
        await bench.start()
        await bench.setup_agent()
        for i in range(args.trials):
            await bench.trial(i)
            if args.verbose:
                print(f"trial {i + 1}/{args.trials}: {json.dumps(bench.counts.trials)}", flush=True)
        await bench.say(bench.next_text())
        final = await bench.final_check()
    finally:
        if bench.proc is not None and bench.proc.returncode is None:
            bench.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(bench.proc.wait(), 30)
            except TimeoutError:
                bench.proc.kill()
        fake.stdin.close()
        await fake.wait()
    c = bench.counts
    starts = sorted(c.start_s)
    return {
        "trials": args.trials, "by_moment": c.trials, "workers": args.workers, **final,
        "leftover_processes": c.leftover, "leftover_kinds": c.leftover_kinds, "failed_starts": c.failed_starts,
        "integrity_failures": c.integrity_failures, "cut_before_any_event": c.cut_before_event,
        "start_s_p50": round(starts[len(starts) // 2], 2), "start_s_max": round(starts[-1], 2),
        "processes_gone_s_p50": round(sorted(c.gone_s)[len(c.gone_s) // 2], 2) if c.gone_s else None,
        "processes_gone_s_max": round(max(c.gone_s), 2) if c.gone_s else None,
        "minutes": round((time.monotonic() - started) / 60, 1),
        "load_before": [round(x, 2) for x in load], "load_after": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fake", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--round-robin", action="store_true", help="the moments in turn instead of at random")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--server-log", metavar="PATH", help="append the servers' stderr (logs) to this file")
    args = ap.parse_args()
    if args.fake:
        asyncio.run(fake_llm())
        return
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=1))
    bad = {k: result[k] for k in ("lost", "duplicated", "leftover_processes", "failed_starts", "integrity_failures",
                                  "jobs_not_done", "jobs_written_twice") if result[k]}
    print("PASS: 0 of every count" if not bad else f"FAIL: {bad}")


if __name__ == "__main__":
    main()
