"""How many people can speak at the same moment before the local speech stack slows replies down?

Live sessions cost little while people listen or pause (bench/voice_sessions.py: ≥ 300 per 2-core machine with
VAD on); what costs is transcribing speech. This bench opens N voice sessions and has all N speak an utterance at
the same moment (fixtures streamed in real time, server VAD, silence_ms 600), N = 1, 2, 3, 4, …, with the local
stack in the server process: faster-whisper tiny.en for STT and Piper (joe) for TTS, and the fake OpenAI LLM
(60 ms to first token) so only speech is measured. Reported per N: voice-to-voice (end of speech → first reply
audio) and STT time, p50 and max over every speaker of every round, from ``response.done``.

    .venv/bin/python bench/stt_speakers.py [--speakers 1 2 3 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIXTURES = ["weather.wav", "name_color.wav", "lights_off.wav", "order_number.wav", "sister_paris.wav",
            "hello.wav"]


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))] if s else float("nan")


async def run(args: argparse.Namespace) -> None:
    from tests.fakes.native_client import NativeClient, load_wav
    from tests.fakes.openai_server import FakeOpenAIServer, Pause, Text
    from tests.integration.session.conftest import start_voice_server
    from voice_letta.providers.piper_tts import PiperTTS
    from voice_letta.providers.whisper_stt import WhisperSTT

    fake = FakeOpenAIServer()
    await fake.start()
    fake.default_turn = [Pause(0.06), Text("Sure. "), Text("Here is a short answer for you.")]
    stt, tts = WhisperSTT(), PiperTTS()
    await stt.preload()
    await tts.preload()
    vs = await start_voice_server(Path(tempfile.mkdtemp()), fake, stt=stt, tts=tts)
    audio = [load_wav(name) for name in FIXTURES]
    results: dict[int, list[dict[str, float]]] = {}
    try:
        agents = [await vs.create_agent(name=f"speaker-{i}", handoff_on_session_end=False)
                  for i in range(max(args.speakers))]

        async def speak(agent: str, k: int) -> dict[str, float]:
            pcm, rate = audio[k % len(audio)]
            async with await NativeClient.open(vs.url, agent=agent) as c:
                await c.stream(pcm, rate=rate, speed=1.0)
                done = await c.wait_for("response.done", timeout_s=120)
                return dict(done["timings_ms"])

        await speak(agents[0], 0)  # warm-up: the models' first inference is slower
        for n in args.speakers:
            rows: list[dict[str, float]] = []
            for r in range(args.rounds):
                rows += await asyncio.gather(*(speak(agents[i], r + i) for i in range(n)))
            results[n] = rows
            v2v = [t["voice_to_voice_ms"] for t in rows if "voice_to_voice_ms" in t]
            print(f"{n} speakers: voice-to-voice p50 {pct(v2v, 50):.0f} ms, max {max(v2v):.0f} ms", file=sys.stderr)
    finally:
        await vs.runner.cleanup()
        await fake.aclose()
    print(f"\ncores {os.cpu_count()}; {args.rounds} rounds of N people speaking at once; load average "
          f"{os.getloadavg()[0]:.2f} at the end\n")
    print("| speakers at once | voice-to-voice p50 | voice-to-voice max | STT p50 | STT max | n |")
    print("|---|---|---|---|---|---|")
    for n, rows in results.items():
        v2v = [t["voice_to_voice_ms"] for t in rows if "voice_to_voice_ms" in t]
        stt_ms = [t["stt_ms"] for t in rows if "stt_ms" in t]
        print(f"| {n} | {pct(v2v, 50):.0f} ms | {max(v2v):.0f} ms | {pct(stt_ms, 50):.0f} ms | {max(stt_ms):.0f} ms "
              f"| {len(v2v)} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--speakers", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--rounds", type=int, default=3)
    parsed = ap.parse_args()
    if not all(1 <= n <= 32 for n in parsed.speakers) or not 1 <= parsed.rounds <= 50:
        ap.error("--speakers 1..32, --rounds 1..50")
    asyncio.run(run(parsed))
