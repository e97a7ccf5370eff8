"""The embedded model's first turn, cold and warmed, against a later turn (issue 14: "warm its prompt cache").

Each case runs in a fresh process (the model and its KV cache start empty), with the default agent's compiled
system prompt and voice tools (the ~700-token prompt of a new agent), temperature 0, 24 tokens:

* ``cold``: the first turn as it was: the whole prompt is evaluated inside the turn;
* ``warm``: ``LocalChatModel.warm`` first (what a voice session does when it opens, and after memory changes the
  prompt), then the turn;
* ``later``: a second turn after the first (the prefix is cached by then): the target the first turn should meet.

Reported: time to the first content (or tool-call) delta and the prompt tokens evaluated in the turn.

    .venv/bin/python bench/local_first_turn.py [--threads 1] [--reps 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


async def one(case: str) -> dict[str, float]:
    from voice_letta.agent.models import AgentState, Block, LLMConfig, ProviderName
    from voice_letta.agent.ports import ChatMessage, ChatRequest
    from voice_letta.agent.prompt import compile_system_prompt
    from voice_letta.agent.service import default_blocks
    from voice_letta.agent.tools import voice_tools
    from voice_letta.providers.local_llm import LocalChatModel, preload

    blocks = [Block(id=f"b{i}", label=b.label, value=b.value, limit=b.limit, description=b.description)
              for i, b in enumerate(default_blocks())]
    agent = AgentState(id="agent-bench", name="bench", blocks=blocks,
                       llm=LLMConfig(provider=ProviderName.LOCAL, model="smollm2", temperature=0.0, max_tokens=24))
    specs = tuple(t.spec for t in voice_tools(agent))
    system = ChatMessage("system", compile_system_prompt(agent))
    model = LocalChatModel(agent.llm)
    await preload()

    def req(*turns: ChatMessage) -> ChatRequest:
        return ChatRequest((system, *turns), agent.llm, tools=specs, tool_choice="auto")

    async def turn(*turns: ChatMessage) -> tuple[float, int, str]:
        started = time.perf_counter()
        first: float | None = None
        usage = None
        text = ""
        async for d in model.stream(req(*turns)):
            if first is None and (d.content or d.tool_calls):
                first = time.perf_counter() - started
            text += d.content or ""
            usage = d.usage or usage
        assert usage is not None
        return (first or time.perf_counter() - started) * 1000, usage.prompt_tokens - usage.cached_tokens, text

    q1 = ChatMessage("user", "Hi! What can you do?")
    warm_ms = 0.0
    if case == "warm":
        t0 = time.perf_counter()
        await model.warm(req())
        warm_ms = (time.perf_counter() - t0) * 1000
    ms, evaluated, text = await turn(q1)
    if case == "later":
        ms, evaluated, _ = await turn(q1, ChatMessage("assistant", text), ChatMessage("user", "And what time is it?"))
    return {"first_delta_ms": ms, "evaluated": evaluated, "warm_ms": warm_ms}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--case", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.case:
        print(json.dumps(asyncio.run(one(a.case))), flush=True)
        return
    print(f"load average: {os.getloadavg()}; llama.cpp threads: {a.threads}")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VOICE_LETTA_LOCAL_LLM_THREADS": str(a.threads)}
    for case in ("cold", "warm", "later"):
        rows = []
        for _ in range(a.reps):
            out = subprocess.run([sys.executable, __file__, "--case", case], env=env, capture_output=True,
                                 text=True, timeout=900, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        ms = sorted(r["first_delta_ms"] for r in rows)
        print(f"{case:>6}: first delta {ms[len(ms) // 2]:7.0f} ms (runs: {', '.join(f'{m:.0f}' for m in ms)}), "
              f"prompt tokens evaluated in the turn {rows[0]['evaluated']}, warm-up {rows[0]['warm_ms']:.0f} ms")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
