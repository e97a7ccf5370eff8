"""What an ``Idempotency-Key`` costs a memory write, and what a replayed retry costs (docs/protocol.md §Retried
writes), through a real server on a SQLite file in a temporary directory, loopback only.

    .venv/bin/python bench/idempotent_writes.py [--n 100]

Prints p50/p99 of: the key's store work alone (``claim_request_key`` + ``finish_request_key``); a
``POST …/archival/batch`` of 10 passages without a key, with a new key each time, and a retry (same key, same body:
replayed, nothing embedded); a 100-message ``…/messages/import`` (``archive: false``) of new lines and the same import
sent again (every line a duplicate of an earlier import).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from voice_letta import ids
from voice_letta.agent.models import AgentState
from voice_letta.config import ServerConfig
from voice_letta.providers.registry import ProviderRegistry
from voice_letta.server.app import Overrides, create_app
from voice_letta.store import open_store


def fmt(values: list[float]) -> str:
    ordered = sorted(values)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    return f"p50 {pct(50):7.2f} ms  p99 {pct(99):7.2f} ms  (n={len(values)})"


async def timed(session: aiohttp.ClientSession, url: str, body: Any, key: str | None, status: int) -> float:
    headers = {"Idempotency-Key": key} if key else {}
    start = time.perf_counter()
    async with session.post(url, json=body, headers=headers) as r:
        await r.read()
        assert r.status == status, (r.status, await r.text())
    return (time.perf_counter() - start) * 1000


async def store_only(path: Path, n: int) -> list[float]:
    store = await open_store(path / "keys.db")
    agent = await store.create_agent(AgentState(id=ids.agent_id(), name="bench"), [])
    took = []
    for i in range(n):
        start = time.perf_counter()
        await store.claim_request_key(agent.id, f"k{i}", "fp", now=time.time(), ttl_s=86400, lease_s=600)
        await store.finish_request_key(agent.id, f"k{i}", "fp", status=201, body='{"object": "list"}')
        took.append((time.perf_counter() - start) * 1000)
    await store.aclose()
    return took


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print(f"store: claim + finish            {fmt(await store_only(Path(tmp), n))}")
        cfg = ServerConfig(db_path=Path(tmp) / "voice.db", api_key=None, enable_sandbox=False)
        app = create_app(cfg, Overrides(models=ProviderRegistry(env={"FAKE_KEY": "x"})))
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            async with aiohttp.ClientSession() as s:
                async with s.post(f"{base}/v1/agents", json={"name": "bench", "llm": {
                        "provider": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1",
                        "api_key_env": "FAKE_KEY"}}) as r:
                    agent = (await r.json())["id"]
                url = f"{base}/v1/agents/{agent}/archival/batch"

                def body(i: int) -> dict[str, Any]:
                    return {"passages": [{"text": f"Fact {i}.{k}: the ferry to Vigo leaves at {k} o'clock."}
                                         for k in range(10)]}

                await timed(s, url, body(-1), None, 201)  # the embedder loaded
                plain = [await timed(s, url, body(i), None, 201) for i in range(n)]
                keyed = [await timed(s, url, body(n + i), f"key-{i}", 201) for i in range(n)]
                replay = [await timed(s, url, body(n + i), f"key-{i}", 201) for i in range(n)]
                print(f"batch of 10, no key              {fmt(plain)}")
                print(f"batch of 10, new key             {fmt(keyed)}")
                print(f"batch of 10, retried (replayed)  {fmt(replay)}")
                url = f"{base}/v1/agents/{agent}/messages/import"
                t0 = time.time() - 86400 * 30
                imports = [{"messages": [{"role": "user", "content": f"line {i}.{k} about the garden",
                                          "said_at": t0 + i * 1000 + k} for k in range(100)], "archive": False}
                           for i in range(n)]
                new = [await timed(s, url, imports[i], None, 202) for i in range(n)]
                again = [await timed(s, url, imports[i], None, 202) for i in range(n)]
                print(f"import of 100, new lines         {fmt(new)}")
                print(f"import of 100, all duplicates    {fmt(again)}")
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100)
    asyncio.run(main(parser.parse_args().n))
