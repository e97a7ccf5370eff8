"""Voice-to-voice latency with the local stack: end of user speech → first audio byte out, by stage.

Real faster-whisper tiny.en + Piper (joe) in the server process, the scripted fake OpenAI LLM (a fixed
short reply with ~60 ms to first token) so the numbers isolate the voice path. Each fixture is streamed
over loopback in real time (20 ms frames, server VAD, silence_ms 600) and the stage timings come from
``response.done``. Speculative STT (transcribing ``TurnDetector.interim_pcm()`` once 240 ms of silence
has passed) is on by default; ``--no-speculative`` turns it off for comparison.

    .venv/bin/python bench/voice_latency.py [--reps 2] [--no-speculative]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIXTURES = ["weather.wav", "hello.wav", "name_color.wav", "lights_off.wav", "order_number.wav",
            "sister_paris.wav", "sister_recall.wav"]
STAGES = ["endpointing_ms", "stt_ms", "first_token_ms", "tts_first_audio_ms", "transcript_to_audio_ms",
          "voice_to_voice_ms"]


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))] if s else float("nan")


async def run(reps: int, speculative: bool) -> None:
    import voice_letta.session.listener as S
    from tests.fakes.native_client import NativeClient, load_wav
    from tests.fakes.openai_server import FakeOpenAIServer, Pause, Text
    from tests.integration.session.conftest import start_voice_server
    from voice_letta.providers.piper_tts import PiperTTS
    from voice_letta.providers.whisper_stt import WhisperSTT

    if not speculative:
        S.SPECULATE_AFTER_MS = 10**9  # never reached: every utterance is transcribed after the turn ends
    fake = FakeOpenAIServer()
    await fake.start()
    fake.default_turn = [Pause(0.06), Text("Sure. "), Text("Here is a short answer for you.")]
    stt, tts = WhisperSTT(), PiperTTS()
    await stt.preload()
    await tts.preload()
    vs = await start_voice_server(Path(tempfile.mkdtemp()), fake, stt=stt, tts=tts)
    agent = await vs.create_agent()
    rows: list[dict[str, float]] = []
    try:
        # warm-up: first inference of each model is slower
        async with await NativeClient.open(vs.url, agent=agent) as c:
            pcm, rate = load_wav("hello.wav")
            await c.stream(pcm, rate=rate, speed=0)
            await c.wait_for("response.done", timeout_s=60)
        for _ in range(reps):
            for name in FIXTURES:
                pcm, rate = load_wav(name)
                async with await NativeClient.open(vs.url, agent=agent) as c:
                    await c.stream(pcm, rate=rate, speed=1.0)
                    done = await c.wait_for("response.done", timeout_s=60)
                    t = done["timings_ms"]
                    rows.append(t)
                    print(f"{name:>18}: " + " ".join(f"{k.replace('_ms', '')}={t.get(k, float('nan')):.0f}"
                                                      for k in STAGES), flush=True)
    finally:
        await vs.runner.cleanup()
        await fake.aclose()
    print(f"\nspeculative STT: {'on' if speculative else 'off'}; n={len(rows)}")
    print(f"{'stage':>24} {'p50':>7} {'p95':>7}")
    for k in STAGES:
        vals = [r[k] for r in rows if k in r]
        print(f"{k:>24} {pct(vals, 50):>7.0f} {pct(vals, 95):>7.0f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--no-speculative", action="store_true")
    args = ap.parse_args()
    asyncio.run(run(args.reps, not args.no_speculative))


if __name__ == "__main__":
    main()
