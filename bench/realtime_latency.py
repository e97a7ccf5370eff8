"""Server-added latency of ``/v1/realtime`` against ``/v1/voice`` for the same turns (issue 13 target: within 20 ms).

Layout: three processes. The fake OpenAI LLM (``tests/fakes/openai_server.py``, a fixed short reply after
60 ms) runs in one subprocess; the voice-letta server (``create_app``, real SQLite file, the local speech
engines: faster-whisper tiny.en and Piper, loaded before the first turn) in another; this process is the
client (plain ``websockets``, raw JSON on both endpoints, so the client work is the same).

One session per endpoint and mode (kept open, as clients do); each fixture is one user turn, sent over both
endpoints alternately (paired, same audio, same agent; which endpoint goes first alternates):

* ``commit``: the client streams the audio in real time (as a microphone does: sent faster, the end of the
  turn would queue behind the server's work on a backlog of audio, more for Realtime's base64 JSON at 24 kHz
  than for binary 16 kHz frames), then ends the turn itself and starts a clock as it sends the end (native
  ``input_audio.commit`` in push_to_talk; Realtime ``input_audio_buffer.commit`` + ``response.create`` with
  ``turn_detection: null``), and stops it at the first audio of the answer (a binary frame; a
  ``response.output_audio.delta``). That span is all server work: STT, the agent turn over
  HTTP to the fake, the first sentence's TTS, and the protocol adapter.
* ``vad``: the audio streams in real time and the server's VAD ends the turn; the clock starts when the client
  receives ``speech.stopped`` / ``input_audio_buffer.speech_stopped`` (both are sent at the same point of the
  engine) and stops at the first audio.

Reported: p50/p95 of each endpoint and of the paired differences (Realtime − native).

``--engines scripted`` replaces the speech engines by fixed-delay fakes (250 ms STT, 50 ms to first TTS audio),
which takes the engines' own variance out and leaves the protocol path.

    .venv/bin/python bench/realtime_latency.py [--reps 3] [--modes commit,vad] [--engines local|scripted]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_common import until_stdin_closes  # noqa: E402

FIXTURES = ["weather.wav", "hello.wav", "name_color.wav", "lights_off.wav", "order_number.wav",
            "sister_paris.wav", "sister_recall.wav"]
LIFETIME_S = 1800.0  # subprocesses stop by themselves after this, whatever happens
perf = time.perf_counter


# --- subprocesses ------------------------------------------------------------------------------------------
async def fake_main() -> None:
    from tests.fakes.openai_server import FakeOpenAIServer, Pause, Text

    fake = FakeOpenAIServer()
    await fake.start()
    fake.default_turn = [Pause(0.06), Text("Sure. "), Text("Here is a short answer for you.")]
    print(f"URL {fake.base_url}", flush=True)
    await _until_stdin_closes()
    await fake.aclose()


async def serve_main(fake_url: str, engines: str) -> None:
    from aiohttp import web

    from voice_letta.config import ServerConfig
    from voice_letta.providers.piper_tts import PiperTTS
    from voice_letta.providers.registry import ProviderRegistry
    from voice_letta.providers.whisper_stt import WhisperSTT
    from voice_letta.server.app import Overrides, create_app

    if engines == "local":
        stt, tts = WhisperSTT(), PiperTTS()
        await stt.preload()
        await tts.preload()
    else:
        from tests.fakes.scripted_speech import ScriptedSTT, ScriptedTTS

        stt, tts = ScriptedSTT(delay_s=0.25), ScriptedTTS(first_chunk_delay_s=0.05)  # type: ignore[assignment]
    with tempfile.TemporaryDirectory(prefix="vl-rt-bench-") as tmp:
        cfg = ServerConfig(db_path=Path(tmp) / "bench.db", api_key=None)
        registry = ProviderRegistry(env={"FAKE_OPENAI_KEY": "sk-fake"})
        app = create_app(cfg, Overrides(models=registry, stt=stt, tts=tts))
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        import aiohttp

        async with aiohttp.ClientSession() as s, s.post(f"http://127.0.0.1:{port}/v1/agents", json={
                "name": "bench", "llm": {"provider": "openai", "model": "fake-model", "base_url": fake_url,
                                         "api_key_env": "FAKE_OPENAI_KEY", "max_retries": 0},
                # no memory upkeep during the run: it would compete for the CPU (and the fake is no sleeptime model)
                "buffer": {"max_messages": 10000, "min_messages": 5000}, "handoff_on_session_end": False}) as r:
            agent = (await r.json())["id"]
        print(f"READY http://127.0.0.1:{port} {agent}", flush=True)
        await _until_stdin_closes()
        await runner.cleanup()


async def _until_stdin_closes() -> None:
    await until_stdin_closes(LIFETIME_S)


async def _spawn(*args: str, ready: str) -> tuple[asyncio.subprocess.Process, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    proc = await asyncio.create_subprocess_exec(sys.executable, __file__, *args, stdin=subprocess.PIPE,
                                                stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    async with asyncio.timeout(300):
        while True:
            line = (await proc.stdout.readline()).decode()
            if not line:
                raise RuntimeError(f"{args[0]} exited before it was ready")
            if line.startswith(ready):
                return proc, line.split()[1:]


# --- the client --------------------------------------------------------------------------------------------
def _pcm(name: str, rate: int) -> bytes:
    from tests.fakes.native_client import load_wav, resample

    pcm, src = load_wav(name)
    return resample(pcm, src, rate)


class NativeConn:
    """One ``/v1/voice`` session for all turns of a mode (as a client keeps it)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, url: str, agent: str, mode: str) -> NativeConn:
        from websockets.asyncio.client import connect

        ws = await connect(url.replace("http://", "ws://") + f"/v1/voice?agent={agent}",
                           subprotocols=["voice-letta.v1"], max_size=None)  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "session.update", "session": {
            "turn_mode": "push_to_talk" if mode == "commit" else "server_vad", "input_sample_rate_hz": 16000,
            # the end-of-turn rule Realtime's server_vad maps to: 600 ms of silence, whatever the words
            "vad": {"end_of_turn": "silence", "silence_ms": 600}}}))
        return cls(ws)

    async def turn(self, name: str, mode: str) -> float:
        pcm, ws = _pcm(name, 16000), self.ws
        start: float | None = None
        first: float | None = None
        sender = asyncio.create_task(_send_native(ws, pcm, tail=mode == "vad"))
        if mode == "commit":
            await sender
            start = perf()
            await ws.send(json.dumps({"type": "input_audio.commit"}))
        async for msg in ws:
            if isinstance(msg, bytes):
                if start is not None and first is None:
                    first = perf()
                continue
            kind = json.loads(msg)["type"]
            if kind == "speech.stopped" and mode == "vad" and start is None:
                start = perf()
            elif kind == "response.done" and first is not None and start is not None:
                await sender
                return (first - start) * 1000
        raise RuntimeError("closed")


async def _send_native(ws: Any, pcm: bytes, *, tail: bool) -> None:
    """20 ms frames in real time (a microphone), with a second of silence after the words for the VAD."""
    frame = 640  # 20 ms at 16 kHz
    data = pcm + (b"\x00\x00" * 16000 if tail else b"")
    for i in range(0, len(data), frame):
        await ws.send(data[i:i + frame])
        await asyncio.sleep(0.02)


class RealtimeConn:
    """One ``/v1/realtime`` session for all turns of a mode."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, url: str, agent: str, mode: str) -> RealtimeConn:
        from websockets.asyncio.client import connect

        ws = await connect(url.replace("http://", "ws://") + f"/v1/realtime?model={agent}", max_size=None)
        td = None if mode == "commit" else {"type": "server_vad", "silence_duration_ms": 600}
        await ws.send(json.dumps({"type": "session.update", "session": {
            "type": "realtime", "audio": {"input": {"turn_detection": td}}}}))
        return cls(ws)

    async def turn(self, name: str, mode: str) -> float:
        pcm, ws = _pcm(name, 24000), self.ws
        start: float | None = None
        first: float | None = None
        sender = asyncio.create_task(_send_realtime(ws, pcm, tail=mode == "vad"))
        if mode == "commit":
            await sender
            start = perf()
            await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
            await ws.send(json.dumps({"type": "response.create"}))
        async for msg in ws:
            kind = json.loads(msg)["type"]
            if kind == "response.output_audio.delta":
                if start is not None and first is None:
                    first = perf()
            elif kind == "input_audio_buffer.speech_stopped" and mode == "vad" and start is None:
                start = perf()
            elif kind == "response.done" and first is not None and start is not None:
                await sender
                return (first - start) * 1000
        raise RuntimeError("closed")


async def _send_realtime(ws: Any, pcm: bytes, *, tail: bool) -> None:
    chunk = 960  # 20 ms at 24 kHz
    data = pcm + (b"\x00\x00" * 24000 if tail else b"")
    for i in range(0, len(data), chunk):
        await ws.send(json.dumps({"type": "input_audio_buffer.append",
                                  "audio": base64.b64encode(data[i:i + chunk]).decode()}))
        await asyncio.sleep(0.02)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))] if s else float("nan")


async def client_main(reps: int, modes: list[str], engines: str) -> None:
    fake, (fake_url,) = await _spawn("--fake", ready="URL")
    server, (url, agent) = await _spawn("--serve", fake_url, "--engines", engines, ready="READY")
    try:
        for mode in modes:
            conns = (await NativeConn.open(url, agent, mode), await RealtimeConn.open(url, agent, mode))
            await conns[0].turn("hello.wav", mode)  # warm-up: the first inference is slower
            await conns[1].turn("hello.wav", mode)
            native: list[float] = []
            rt: list[float] = []
            for rep in range(reps):
                for i, name in enumerate(FIXTURES):
                    order = [0, 1] if (rep + i) % 2 == 0 else [1, 0]  # alternate which endpoint goes first
                    for k in order:
                        (native if k == 0 else rt).append(await conns[k].turn(name, mode))
                    print(f"{mode:>6} {name:>18}: voice {native[-1]:6.0f} ms  realtime {rt[-1]:6.0f} ms", flush=True)
            for c in conns:
                await c.ws.close()
            diffs = [r - n for r, n in zip(rt, native, strict=True)]
            print(f"\n{mode} ({engines} engines): n={len(native)} pairs; load {os.getloadavg()[0]:.1f}")
            print(f"{'':>10} {'p50':>7} {'p95':>7} {'mean':>7}")
            for label, vals in (("voice", native), ("realtime", rt), ("rt-voice", diffs)):
                print(f"{label:>10} {pct(vals, 50):>7.1f} {pct(vals, 95):>7.1f} {statistics.fmean(vals):>7.1f}")
            print(f"{'':>10} median difference {statistics.median(diffs):+.1f} ms (target: within 20 ms)\n")
    finally:
        for proc in (server, fake):
            if proc.stdin is not None:
                proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 20)
            if proc.returncode is None:
                proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--modes", default="commit,vad")
    ap.add_argument("--engines", choices=("local", "scripted"), default="local",
                    help="local: faster-whisper + Piper; scripted: fixed-delay fakes (isolates the protocol path)")
    ap.add_argument("--fake", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--serve", metavar="FAKE_URL", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.fake:
        asyncio.run(fake_main())
    elif args.serve:
        asyncio.run(serve_main(args.serve, args.engines))
    else:
        print(f"load averages before: {os.getloadavg()}", flush=True)
        asyncio.run(client_main(args.reps, args.modes.split(","), args.engines))
        print(f"load averages after: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
