"""Concurrent live voice sessions over loopback: how many before frame handling falls behind real time.

The server runs in its own process (scripted STT that returns "" so turns end after VAD + endpointing +
STT without an LLM; scripted TTS). Load generators run in separate processes; each opens its share of
sessions and streams fixture speech (speech + silence, looped) in real time as 20 ms PCM16 frames at
16 kHz, with VAD on (server_vad). Every 0.5 s each session sends a ``ping`` behind its audio and times the
``pong``. The server samples its event-loop lag every 5 ms (how long a frame that just arrived waits for
the loop) and its CPU time.

    .venv/bin/python bench/voice_sessions.py                       # 50..400 sessions, 20 s each
    .venv/bin/python bench/voice_sessions.py --sessions 100 300 --seconds 10

Only 127.0.0.1 is used; every loop is bounded by --seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


# --- server process ---------------------------------------------------------------------------------------
async def serve(port: int, db: str) -> None:
    from aiohttp import web

    from tests.fakes.scripted_speech import ScriptedSTT, ScriptedTTS
    from voice_letta.config import ServerConfig
    from voice_letta.server.app import Overrides, create_app

    app = create_app(ServerConfig(db_path=Path(db), api_key=None),
                     Overrides(stt=ScriptedSTT(default=""), tts=ScriptedTTS()))
    lags: list[float] = []

    async def stats(request: web.Request) -> web.Response:
        body = {"lag_p50_ms": pct(lags, 50), "lag_p99_ms": pct(lags, 99), "lag_max_ms": max(lags, default=0),
                "cpu_s": time.process_time(), "samples": len(lags)}
        if request.query.get("reset"):
            lags.clear()
        return web.json_response(body)

    app.router.add_get("/bench/stats", stats)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        t = loop.time()
        await asyncio.sleep(0.005)
        lags.append((loop.time() - t - 0.005) * 1000)
        if len(lags) > 200_000:
            del lags[:100_000]


# --- load generator process --------------------------------------------------------------------------------
async def generate(url: str, agent: str, n: int, seconds: float) -> None:
    from websockets.asyncio.client import connect

    from tests.fakes.native_client import load_wav, silence

    speech, _ = load_wav("hello.wav")
    pcm = speech + silence(1000)
    frame = 640
    rtts: list[float] = []
    errors = 0

    async def one(i: int) -> None:
        nonlocal errors
        await asyncio.sleep(i * 0.02 % 1.0)
        async with connect(f"{url}/v1/voice?agent={agent}", subprotocols=["voice-letta.v1"]) as ws:  # type: ignore[list-item]
            pending: dict[str, float] = {}

            async def reader() -> None:
                nonlocal errors
                async for raw in ws:
                    if isinstance(raw, str):
                        msg = json.loads(raw)
                        if msg["type"] == "pong" and msg["event_id"] in pending:
                            rtts.append((time.monotonic() - pending.pop(msg["event_id"])) * 1000)
                        elif msg["type"] == "error":
                            errors += 1

            rt = asyncio.create_task(reader())
            t0 = time.monotonic()
            k = 0
            off = (i * 3200) % len(pcm)
            while (elapsed := time.monotonic() - t0) < seconds:
                chunk = pcm[off:off + frame]
                off = (off + frame) % len(pcm)
                if len(chunk) < frame:
                    chunk += pcm[: frame - len(chunk)]
                await ws.send(chunk)
                k += 1
                if k % 25 == 0:
                    pid = f"{i}-{k}"
                    pending[pid] = time.monotonic()
                    await ws.send(json.dumps({"type": "ping", "event_id": pid}))
                delay = t0 + k * 0.02 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                del elapsed
            await asyncio.sleep(0.3)
            rt.cancel()

    await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=False)
    print(json.dumps({"rtts": rtts, "errors": errors}), flush=True)


# --- driver -----------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--gen", action="store_true")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--db", default="")
    ap.add_argument("--url", default="")
    ap.add_argument("--agent", default="")
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--sessions", type=int, nargs="*", default=[50, 100, 200, 300, 400])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--generators", type=int, default=2)
    args = ap.parse_args()
    if args.serve:
        asyncio.run(serve(args.port, args.db))
        return
    if args.gen:
        asyncio.run(generate(args.url, args.agent, args.n, args.seconds))
        return
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = tempfile.mkdtemp()
    server = subprocess.Popen([sys.executable, __file__, "--serve", "--port", str(port), "--db", f"{tmp}/b.db"],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        url = f"http://127.0.0.1:{port}"
        req = urllib.request.Request(url + "/v1/agents", data=json.dumps({"name": "bench"}).encode(),
                                     headers={"Content-Type": "application/json"})
        agent = json.loads(urllib.request.urlopen(req).read())["id"]
        print(f"{'sessions':>8} {'lag p50':>8} {'lag p99':>8} {'lag max':>8} {'ping p50':>9} {'ping p99':>9} "
              f"{'cpu/s/sess':>11} {'errors':>6}")
        for n in args.sessions:
            json.loads(urllib.request.urlopen(url + "/bench/stats?reset=1").read())
            cpu0 = json.loads(urllib.request.urlopen(url + "/bench/stats").read())["cpu_s"]
            t0 = time.monotonic()
            per = [n // args.generators + (1 if i < n % args.generators else 0) for i in range(args.generators)]
            gens = [subprocess.Popen([sys.executable, __file__, "--gen", "--url", url.replace("http", "ws"),
                                      "--agent", agent, "--n", str(k), "--seconds", str(args.seconds)],
                                     stdout=subprocess.PIPE, text=True, cwd=ROOT) for k in per if k]
            rtts: list[float] = []
            errors = 0
            for g in gens:
                out, _ = g.communicate(timeout=args.seconds + 120)
                data = json.loads(out.strip().splitlines()[-1])
                rtts += data["rtts"]
                errors += data["errors"]
            wall = time.monotonic() - t0
            st = json.loads(urllib.request.urlopen(url + "/bench/stats?reset=1").read())
            cpu_per = (st["cpu_s"] - cpu0) / (n * args.seconds)
            print(f"{n:>8} {st['lag_p50_ms']:>8.2f} {st['lag_p99_ms']:>8.2f} {st['lag_max_ms']:>8.1f} "
                  f"{pct(rtts, 50):>9.2f} {pct(rtts, 99):>9.2f} {cpu_per * 1000:>9.2f}ms {errors:>6}", flush=True)
            del wall
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
