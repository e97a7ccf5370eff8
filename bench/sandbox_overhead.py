"""Overhead of one sandboxed call of an empty tool (Python and TypeScript), end to end through
``SandboxExecutor``: connect, fork, isolate (namespaces, rlimits, uid drop), run, collect, clean up.

    .venv/bin/python bench/sandbox_overhead.py [--calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from voice_letta.agent.models import Tool
from voice_letta.tools_runtime import SandboxExecutor, SandboxSupervisor

PY = Tool(id="bench-py", name="noop", source_type="python", source_code="def noop():\n    return None\n")
TS = Tool(id="bench-ts", name="noop", source_type="typescript", source_code="export function noop(): void {}\n")


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _measure(executor: SandboxExecutor, tool: Tool, calls: int) -> list[float]:
    for _ in range(3):  # warm the TypeScript compile cache and the page cache
        await executor.execute(tool, {})
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        result = await executor.execute(tool, {})
        samples.append((time.perf_counter() - t0) * 1000.0)
        assert result.ok, result
    return samples


async def main(calls: int) -> None:
    supervisor = SandboxSupervisor()
    await supervisor.start()
    try:
        print(f"isolation: {supervisor.isolation}")
        for network in (False, True):
            executor = SandboxExecutor(supervisor, network=network)
            for label, tool, n in (("python", PY, calls), ("typescript", TS, max(calls // 4, 20))):
                s = await _measure(executor, tool, n)
                print(
                    f"{label:<10} netns={'off' if network else 'on ':<3} n={n:<4} "
                    f"p50={statistics.median(s):7.2f} ms  p99={_pct(s, 0.99):7.2f} ms  max={max(s):7.2f} ms"
                )
    finally:
        await supervisor.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    asyncio.run(main(parser.parse_args().calls))
