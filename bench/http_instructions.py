"""Instructions per turn of the server on the real provider path, counted by valgrind's callgrind.

CPU time per turn (``bench/http_latency.py``) moves 1.5-2x between neighbouring runs on a shared 2-core machine, so an
A/B of a 3-10 % change is not resolved by it. The number of instructions the server process executes for a turn
does not depend on what else the machine runs: this bench counts them.

The bench server of ``bench/http_latency.py`` (``--serve --model real``: ``create_app`` on a real SQLite file, agents
on the ``openai`` provider pointed at ``bench/fake_llm.py`` in its own process) runs under
``valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes``. Agents are created and warmed up with
instrumentation off (valgrind still slows the process ~5x then, ~50x with it on); then, per case, callgrind is
zeroed and switched on (``callgrind_control -z``, ``-i on``) for ``--turns`` sequential turns round robin over
``--agents`` agents, then the counts are dumped and it is switched off. Cases: ``idle`` (``--idle-s`` seconds
without a request: the time-driven work, change feed polls and checkpoints), ``single`` (one user message per
request), ``resend`` (LiveKit/Pipecat style: the system prompt and the conversation so far, ``--resend-history``
messages, every request).

Printed per case: instructions (Ir) per turn for the whole process and per thread (the event loop's is the largest,
then aiosqlite's store thread), the wall time, and the garbage collections that ran (a middle or full collection
walks every live object: runs that differ in them do not compare). Under valgrind a turn takes ~50x longer, so work
that runs per second (the change feed's polls, a stream's disconnect ticks every 50 ms) counts ~50x more per turn
than it does at full speed: ``idle`` measures that rate, and "net" subtracts rate x wall time; the disconnect
ticker, which runs only while a stream is open, is slowed as much (``--tick-s`` of the bench server: 2.5 s for 50
ms). Kernel time (syscalls) and cache misses are not counted: this is the user-space work of a turn, the part code
changes move.

    .venv/bin/python bench/http_instructions.py [--cases idle,single,resend] [--turns 60] [--agents 10]

Needs ``valgrind`` (Debian: ``apt-get install valgrind``); a run takes 3-6 minutes on a loaded 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_llm import start_fake_llm, stop_fake_llm
from http_latency import FAKE_KEY_ENV, Server

START_TIMEOUT_S = 900.0  # imports under valgrind on a loaded machine
SERVER = Path(__file__).resolve().parent / "http_latency.py"  # its --serve mode
TICK_S = 2.5  # the server's disconnect ticker (50 ms) slowed as valgrind slows the server (~50x)


def _control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], capture_output=True, timeout=120, check=False)


def _total(path: str) -> int:
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    return 0


def _threads(dumps: list[str]) -> dict[str, int]:
    """Ir per thread of one dump (callgrind names a thread's file ``<out>.<dump>-<thread>``)."""
    return {d.rsplit("-", 1)[-1]: _total(d) for d in dumps if _total(d)}


async def _measure(pid: int, out: str, dump: int, name: str, work: asyncio.Future[None] | None,
                   idle_s: float) -> tuple[dict[str, int], float]:
    await asyncio.to_thread(_control, "-z", str(pid))  # else a later dump's totals are off (negative)
    await asyncio.to_thread(_control, "-i", "on", str(pid))
    started = time.perf_counter()
    if work is not None:
        await work
    else:
        await asyncio.sleep(idle_s)
    wall = time.perf_counter() - started
    await asyncio.to_thread(_control, "-d", name, str(pid))
    await asyncio.to_thread(_control, "-i", "off", str(pid))
    for _ in range(100):  # the dump is written when the process next runs valgrind's scheduler
        dumps = glob.glob(f"{out}.{dump}-*")
        if dumps:
            await asyncio.sleep(0.5)
            return _threads(sorted(glob.glob(f"{out}.{dump}-*"))), wall
        await asyncio.sleep(0.2)
    raise RuntimeError(f"no callgrind dump {out}.{dump}-*")


async def _turns(srv: Server, agents: list[str], n: int) -> None:
    for i in range(n):
        await srv.turn(agents[i % len(agents)], False)


async def main(args: argparse.Namespace) -> None:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    cases = [c for c in args.cases.split(",") if c]
    tmp = tempfile.mkdtemp(prefix="vl-instr-")
    out = os.path.join(tmp, "callgrind.out")
    fake_proc, fake_url, fake_control = await start_fake_llm()
    os.environ[FAKE_KEY_ENV] = "sk-bench"
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
           f"--callgrind-out-file={out}", sys.executable, str(SERVER), "--serve", "--model", "real",
           "--tick-s", str(TICK_S)]
    proc = await asyncio.create_subprocess_exec(*cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.DEVNULL)
    assert proc.stdout is not None and proc.stdin is not None
    rows: list[tuple[str, int, dict[str, int], float, str]] = []
    load = os.getloadavg()[0]
    try:
        port = int((await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT_S)).split()[1])
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
            srv = Server(f"http://127.0.0.1:{port}", session, (fake_url, fake_control))
            agents = await srv.create_agents(args.agents, "instr")
            for dump, case in enumerate(cases, start=1):
                srv.resend = args.resend_history if case == "resend" else 0
                if case != "idle":
                    await _turns(srv, agents, args.warmup * len(agents))
                    await srv.marks()  # the stamps the server keeps, emptied outside the measured turns
                gc_before = (await srv.counters())["gc"]
                work = None if case == "idle" else asyncio.ensure_future(_turns(srv, agents, args.turns))
                threads, wall = await _measure(proc.pid, out, dump, case, work, args.idle_s)
                gc_after = (await srv.counters())["gc"]
                collections = "/".join(f"{gc_after[g] - gc_before[g]:.0f}" for g in ("gen0", "gen1", "gen2"))
                rows.append((case, 0 if case == "idle" else args.turns, threads, wall, collections))
                await srv.marks()
    finally:
        proc.stdin.close()
        await asyncio.wait_for(proc.wait(), 300)
        await stop_fake_llm(fake_proc)
        shutil.rmtree(tmp, ignore_errors=True)
    idle_rate = next((sum(t.values()) / wall for case, _, t, wall, _ in rows if case == "idle"), None)
    print(f"\nserver under callgrind, real provider path; agents {args.agents}, resend history "
          f"{args.resend_history}; load average at start {load:.1f} (instruction counts do not depend on it)\n")
    print("| case | turns | wall s | Ir per turn | net Ir per turn | per thread (Ir per turn, largest first) "
          "| gc collections gen0/1/2 |")
    print("|---|---|---|---|---|---|---|")
    for case, n, threads, wall, collections in rows:
        total = sum(threads.values())
        ordered = sorted(threads.values(), reverse=True)
        if n == 0:
            print(f"| {case} | 0 | {wall:.1f} | {total / wall:,.0f} per second | | "
                  f"{', '.join(f'{v / wall:,.0f}' for v in ordered)} per second | {collections} |")
            continue
        net = f"{(total - idle_rate * wall) / n:,.0f}" if idle_rate is not None else ""
        per_thread = ", ".join(f"{v / n:,.0f}" for v in ordered)
        print(f"| {case} | {n} | {wall:.1f} | {total / n:,.0f} | {net} | {per_thread} | {collections} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default="idle,single,resend", help="comma-separated: idle, single, resend")
    ap.add_argument("--turns", type=int, default=60, help="measured turns per case")
    ap.add_argument("--agents", type=int, default=10, help="agents the turns go round")
    ap.add_argument("--warmup", type=int, default=3, help="unmeasured turns per agent before each case")
    ap.add_argument("--resend-history", type=int, default=40, help="messages of the conversation a resend sends")
    ap.add_argument("--idle-s", type=float, default=10.0, help="seconds of the idle case")
    asyncio.run(main(ap.parse_args()))
