"""Overhead of one sandboxed call of an empty tool (Python and TypeScript), end to end through ``SandboxExecutor``:
connect (or reuse a connection), the sandbox (PID/mount/net/IPC/UTS namespaces, minimal root, tmpfs quota,
seccomp, a uid of its own, rlimits or cgroup), run, collect, tear down.

Three ways of calling, each printed with p50/p99:
    warm   calls spaced by --gap seconds (a voice agent calls a tool once a turn): each call finds a sandbox
           started in advance, its runtime (node) already up, waiting for the job
    burst  calls back to back: the warm sandbox is never ready again in time, so these are cold calls
    cold   warm sandboxes turned off (--sandbox-warm 0)

    .venv/bin/python bench/sandbox_overhead.py [--calls 100] [--gap 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from voice_letta.agent.models import Tool
from voice_letta.config import SandboxSettings
from voice_letta.tools_runtime import SandboxExecutor, SandboxSupervisor

PY = Tool(id="bench-py", name="noop", source_type="python", source_code="def noop():\n    return None\n")
TS = Tool(id="bench-ts", name="noop", source_type="typescript", source_code="export function noop(): void {}\n")


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _measure(executor: SandboxExecutor, tool: Tool, calls: int, gap_s: float) -> list[float]:
    for _ in range(3):  # the TypeScript compile cache, the page cache, the first warm sandbox
        assert (await executor.execute(tool, {})).ok
        await asyncio.sleep(gap_s)
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        result = await executor.execute(tool, {})
        samples.append((time.perf_counter() - t0) * 1000.0)
        assert result.ok, result
        if gap_s:
            await asyncio.sleep(gap_s)
    return samples


async def main(calls: int, gap_s: float) -> None:
    print(f"load average before: {os.getloadavg()}")
    for mode, warm, gap in (("warm", 1, gap_s), ("burst", 1, 0.0), ("cold", 0, gap_s)):
        supervisor = SandboxSupervisor(SandboxSettings(warm=warm))
        await supervisor.start()
        executor = SandboxExecutor(supervisor)
        try:
            if mode == "warm":
                print(f"isolation: {supervisor.isolation}")
            for label, tool, n in (("python", PY, calls), ("typescript", TS, calls)):
                s = await _measure(executor, tool, n, gap)
                print(f"{label:<10} {mode:<5} n={n:<4} p50={statistics.median(s):7.2f} ms  "
                      f"p99={_pct(s, 0.99):7.2f} ms  max={max(s):7.2f} ms")
        finally:
            await executor.aclose()
            await supervisor.aclose()
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.25, help="seconds between calls in the warm and cold runs")
    ns = parser.parse_args()
    asyncio.run(main(ns.calls, ns.gap))
