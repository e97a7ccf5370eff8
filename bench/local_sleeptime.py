"""The sleeptime agent on the default embedded model (SmolLM2-135M): how much of an import it keeps.

    .venv/bin/python bench/local_sleeptime.py [--rounds 1]

A real server (``create_app`` on a temporary SQLite file, the embedded model as the agents' only model, the real
MiniLM embedder in its background process), reached over HTTP: each conversation below is imported with
``POST /v1/agents/{id}/messages/import`` and its memory job awaited. Printed per conversation: the user's lines
worth keeping, how many of them are in an archived passage afterwards, the passages (written by the model, or kept
word for word by the server), the model calls of the job, its time, and whether the memory block still holds
what it held (the facts a rewrite must not lose). Before session 6 this model archived nothing of an import
(it answers ``store_memories`` with an empty list) and its jobs ran to the end of their 8 steps.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voice_letta.agent.models import LLMConfig  # noqa: E402
from voice_letta.agent.ports import ChatModel, ChatRequest  # noqa: E402
from voice_letta.config import ServerConfig  # noqa: E402
from voice_letta.server.app import Overrides, create_app  # noqa: E402
from voice_letta.server.http_memory import MEMORY_MANAGER  # noqa: E402
from voice_letta.server.providers_glue import build_registry  # noqa: E402

HUMAN = "Name: Priya. Lives in Leeds. Works as a nurse. Allergic to penicillin. Cat: Biscuit."
KEEP = ("Priya", "nurse", "penicillin", "Biscuit")
CONVERSATIONS: dict[str, list[tuple[str, str]]] = {
    "move": [("user", "We finally moved to Bristol last weekend."), ("assistant", "Congratulations on the move!"),
             ("user", "My daughter Ellie starts at Redland Green school in January."), ("assistant", "Exciting."),
             ("user", "Also my new dentist is Dr Okafor on Gloucester Road."), ("assistant", "Noted.")],
    "answers": [("assistant", "What's your partner called?"), ("user", "Tom."),
                ("assistant", "And where does he work?"), ("user", "At the Royal Infirmary, in radiology."),
                ("assistant", "What should I remind you about?"), ("user", "The boiler service on Thursday at 9.")],
    "errands": [("user", f"Reminder {i}: {what}") for i, what in enumerate(
        ["pick up the prescription from Boots", "pay the council tax by the 14th", "book the MOT for the Fiesta",
         "return the library books", "call the vet about Biscuit's jab", "order a birthday cake for Ellie",
         "renew the passport before March", "cancel the gym membership", "buy printer ink",
         "email the landlord about the damp"])],
}


class CountingModels:
    """The server's model registry, counting the sleeptime model's calls per agent."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def for_config(self, config: LLMConfig) -> ChatModel:
        model = self.inner.for_config(config)
        outer = self

        class Counted:
            def stream(self, request: ChatRequest) -> Any:
                outer.calls += 1
                return model.stream(request)

            def __getattr__(self, name: str) -> Any:
                return getattr(model, name)

        return Counted()  # type: ignore[return-value]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def run(rounds: int) -> None:
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        models = CountingModels(build_registry())
        app = create_app(ServerConfig(db_path=Path(tmp) / "bench.db", api_key=None, enable_sandbox=False),
                         Overrides(models=models))  # type: ignore[arg-type]
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        print(f"{'conversation':<12} {'user lines':>10} {'archived':>9} {'model':>6} {'verbatim':>9} "
              f"{'calls':>6} {'job s':>7}  block kept")
        try:
            async with aiohttp.ClientSession() as http:
                for r in range(rounds):
                    for name, lines in CONVERSATIONS.items():
                        await one(http, url, app, models, f"{name}-{r}", lines)
        finally:
            await runner.cleanup()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


async def one(http: aiohttp.ClientSession, url: str, app: web.Application, models: CountingModels, name: str,
              lines: list[tuple[str, str]]) -> None:
    async with http.post(f"{url}/v1/agents", json={
            "name": name, "llm": {"provider": "local", "temperature": 0.0},
            "blocks": [{"label": "persona", "value": "I am a helpful voice assistant."},
                       {"label": "human", "value": HUMAN}]}) as resp:
        agent = await resp.json()
    t0 = time.time() - 86400
    before = models.calls
    started = time.perf_counter()
    async with http.post(f"{url}/v1/agents/{agent['id']}/messages/import", json={"messages": [
            {"role": role, "content": text, "said_at": t0 + 60 * i} for i, (role, text) in enumerate(lines)]}) as r:
        assert r.status == 202, await r.text()
    jobs = await app[MEMORY_MANAGER].wait_idle(agent["id"], timeout_s=900)
    took = time.perf_counter() - started
    async with http.get(f"{url}/v1/agents/{agent['id']}/archival", params={"limit": "1000"}) as r:
        passages = (await r.json())["data"]
    async with http.get(f"{url}/v1/agents/{agent['id']}/blocks/human") as r:
        block = (await r.json())["value"]
    archived = "\n".join(p["text"] for p in passages)
    said = [text for role, text in lines if role == "user"]
    kept = sum(text in archived for text in said)
    verbatim = sum(bool(p.get("verbatim")) for p in passages)
    status = ",".join(j.status for j in jobs)
    print(f"{name:<12} {len(said):>10} {kept:>9} {len(passages) - verbatim:>6} {verbatim:>9} "
          f"{models.calls - before:>6} {took:>7.1f}  {all(w in block for w in KEEP)} ({status})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    asyncio.run(run(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
