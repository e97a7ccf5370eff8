"""CPU cost of the inbound audio path for one Twilio call leg.

    mu-law 8 kHz (20 ms chunks, as Twilio sends them) -> PCM16 -> resample to 16 kHz (soxr)
    -> Framer 20 ms -> VadGate (webrtcvad + energy gate) -> TurnDetector

Prints CPU ms per second of audio (process time over the whole run) and p50/p99/max wall time to handle one
20 ms chunk. The input is synthetic: 1.5 s of a voiced harmonic signal alternating with 1.5 s of faint noise.

    .venv/bin/python bench/audio_path.py [--seconds 120] [--quality HQ]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit" / "core"))

from core_signals import voiced, white_noise

from voice_letta.core.codecs import pcm16_to_ulaw, ulaw_to_pcm16
from voice_letta.core.framer import Framer
from voice_letta.core.resample import StreamResampler
from voice_letta.core.turns import TurnDetector, UtteranceReady, VadParams
from voice_letta.core.vad import VadGate


def make_call_audio(seconds: int) -> bytes:
    parts = []
    for i in range(seconds * 2 // 3):
        parts.append(
            voiced(1500, rate=8000, f0_hz=110 + 10 * (i % 5)) if i % 2 == 0 else white_noise(1500, 8000, -55, i)
        )
    return pcm16_to_ulaw(b"".join(parts))


def run(ulaw: bytes, quality: str) -> tuple[float, list[float], int]:
    params = VadParams()
    resampler = StreamResampler(8000, 16000, quality=quality)  # type: ignore[arg-type]
    framer = Framer(16000, 20)
    gate = VadGate.from_params(params, sample_rate_hz=16000, frame_ms=20)
    turns = TurnDetector(params, sample_rate_hz=16000, frame_ms=20)
    per_chunk_us: list[float] = []
    utterances = 0
    now = 0.0
    cpu0 = time.process_time()
    for off in range(0, len(ulaw), 160):
        t0 = time.perf_counter_ns()
        for frame in framer.feed(resampler.feed(ulaw_to_pcm16(ulaw[off : off + 160]))):
            for event in turns.feed(gate.is_speech(frame), frame, now):
                utterances += isinstance(event, UtteranceReady)
        per_chunk_us.append((time.perf_counter_ns() - t0) / 1000)
        now += 0.02
    cpu_s = time.process_time() - cpu0
    return cpu_s, per_chunk_us, utterances


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=120)
    ap.add_argument("--quality", default="HQ", choices=["QQ", "LQ", "MQ", "HQ", "VHQ"])
    args = ap.parse_args()
    ulaw = make_call_audio(args.seconds)
    audio_s = len(ulaw) / 8000
    run(ulaw[: 8000 * 5], args.quality)  # warm-up
    cpu_s, per_chunk, utterances = run(ulaw, args.quality)
    q = np.percentile(per_chunk, [50, 99])
    print(f"audio: {audio_s:.0f} s mu-law 8 kHz in {len(per_chunk)} chunks of 20 ms; resampler quality {args.quality}")
    print(f"CPU: {cpu_s * 1000 / audio_s:.3f} ms per audio-second ({cpu_s * 100 / audio_s:.3f} % of one core)")
    print(
        f"per 20 ms chunk: p50 {q[0]:.1f} us, p99 {q[1]:.1f} us, max {max(per_chunk):.1f} us,"
        f" mean {statistics.fmean(per_chunk):.1f} us"
    )
    print(f"utterances detected: {utterances} (expected {args.seconds * 2 // 3 // 2})")


if __name__ == "__main__":
    main()
