"""End of turn and live captions with the local speech stack: cut-offs, added latency, caption cadence, CPU.

Layout: three processes. ``bench/fake_llm.py`` (an instant OpenAI-compatible stream) in one; the voice-letta
server (``create_app``, a real SQLite file, faster-whisper tiny.en and Piper loaded before the first turn) in
another; this process is the client (plain ``websockets``). Every fixture is streamed over ``/v1/voice`` in
real time (20 ms frames) with server VAD, ``silence_ms`` 600, then 2 s of silence, one session per fixture.

Fixtures (``audio_fixtures/paused``): 16 sentences with a pause inserted mid-sentence (0.8–1.2 s, Piper speech
with the silence placed in a word gap) and 8 complete utterances; plus the 7 single-turn fixtures of
``audio_fixtures``. Modes (one server, chosen per session with ``session.update``):

* ``silence``: ``vad.end_of_turn: "silence"``, no captions (the behaviour before end of turn on words);
* ``silence+captions``: the same with ``transcript.partial`` on (what captions alone cost);
* ``words``: ``end_of_turn: "words"`` with captions (the default).

Reported per mode:

* **cut-offs**: paused fixtures whose first turn ended in the pause (the first ``transcript.final`` lacks the
  words after it); split into pauses after an unfinished phrase and after a complete clause (a fair miss);
* **endpointing** (end of speech → turn detected) and **voice-to-voice** (end of speech → first audio byte out,
  from ``response.done.timings_ms``) on the complete utterances, p50 / p95;
* **captions**: ms of audio between consecutive ``transcript.partial`` messages of the utterances spoken without
  a pause (p95 and max; a caption whose text did not change is not sent, so gaps can exceed the 500 ms
  cadence), the audio covered by the first caption, and the server's CPU seconds per minute of streamed audio
  (``/proc/<pid>/stat``), whose difference between the two silence modes is what captions cost one speaker;
* with ``--speakers N``, N sessions stream at once (each its own fixture order) for the CPU and cadence figures.

    .venv/bin/python bench/end_of_turn.py [--modes silence,silence+captions,words] [--speakers 1] [--reps 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_common import until_stdin_closes  # noqa: E402

FIXTURES = ROOT / "audio_fixtures"
SINGLE_TURN = ["weather.wav", "hello.wav", "name_color.wav", "lights_off.wav", "order_number.wav",
               "sister_paris.wav", "sister_recall.wav"]
MODES = {
    "silence": {"vad": {"end_of_turn": "silence"}, "partial_transcripts": False},
    "silence+captions": {"vad": {"end_of_turn": "silence"}, "partial_transcripts": True},
    "words": {"vad": {"end_of_turn": "words"}, "partial_transcripts": True},
}
LIFETIME_S = 3600.0
TAIL_S = 2.0  # silence streamed after each fixture


# --- the server process ---------------------------------------------------------------------------------------
async def serve_main(llm_url: str) -> None:
    from aiohttp import web

    from voice_letta.config import ServerConfig
    from voice_letta.providers.piper_tts import PiperTTS
    from voice_letta.providers.registry import ProviderRegistry
    from voice_letta.providers.whisper_stt import WhisperSTT
    from voice_letta.server.app import Overrides, create_app

    stt, tts = WhisperSTT(), PiperTTS()
    await stt.preload()
    await tts.preload()
    with tempfile.TemporaryDirectory(prefix="vl-eot-bench-") as tmp:
        app = create_app(ServerConfig(db_path=Path(tmp) / "bench.db", api_key=None),
                         Overrides(models=ProviderRegistry(env={"FAKE_OPENAI_KEY": "sk-fake"}), stt=stt, tts=tts))
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        import aiohttp

        async with aiohttp.ClientSession() as s, s.post(f"http://127.0.0.1:{port}/v1/agents", json={
                "name": "bench", "llm": {"provider": "openai", "model": "fake-model", "base_url": llm_url,
                                         "api_key_env": "FAKE_OPENAI_KEY", "max_retries": 0},
                "buffer": {"max_messages": 10000, "min_messages": 5000}, "handoff_on_session_end": False}) as r:
            agent = (await r.json())["id"]
        print(f"READY http://127.0.0.1:{port} {agent}", flush=True)
        await until_stdin_closes(LIFETIME_S)
        await runner.cleanup()


async def spawn(args: list[str], ready: str) -> tuple[asyncio.subprocess.Process, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = await asyncio.create_subprocess_exec(sys.executable, *args, stdin=subprocess.PIPE,
                                                stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    async with asyncio.timeout(300):
        while True:
            line = (await proc.stdout.readline()).decode()
            if not line:
                raise RuntimeError(f"{args} exited before it was ready")
            if line.startswith(ready):
                return proc, line.split()[1:]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- one fixture, one session -------------------------------------------------------------------------------
@dataclass
class Turn:
    name: str
    info: dict[str, Any]
    finals: list[str] = field(default_factory=list)
    partials: list[tuple[float, float]] = field(default_factory=list)  # (arrival, audio_ms)
    timings: dict[str, float] | None = None
    started: float = field(default_factory=time.monotonic)


async def run_fixture(url: str, agent: str, name: str, info: dict[str, Any], mode: str) -> Turn:
    from websockets.asyncio.client import connect

    from tests.fakes.native_client import load_wav

    pcm, rate = load_wav(name)
    assert rate == 16000
    turn = Turn(name, info)
    async with connect(url.replace("http://", "ws://") + f"/v1/voice?agent={agent}",
                       subprotocols=["voice-letta.v1"], max_size=None) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "session.update", "session": MODES[mode]}))

        async def send() -> None:
            data = pcm + b"\x00\x00" * int(16000 * TAIL_S)
            t0 = time.monotonic()
            for i, off in enumerate(range(0, len(data), 640)):
                await ws.send(data[off:off + 640])
                delay = t0 + (i + 1) * 0.02 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)

        sender = asyncio.create_task(send())
        quiet_since: float | None = None
        while True:
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=0.25)
            except TimeoutError:
                now = time.monotonic()
                if sender.done() and turn.timings is not None:
                    quiet_since = quiet_since or now
                    if now - quiet_since > 1.0:
                        break
                if sender.done() and now - turn.started > turn.info.get("duration_s", 5) + TAIL_S + 30:
                    break  # no answer at all: give up on this fixture
                continue
            quiet_since = None
            if isinstance(raw, bytes):
                continue
            msg = json.loads(raw)
            kind = msg["type"]
            if kind == "transcript.partial":
                turn.partials.append((time.monotonic(), msg["audio_ms"]))
            elif kind == "transcript.final":
                turn.finals.append(msg["text"])
            elif kind == "response.done" and turn.timings is None:
                turn.timings = msg["timings_ms"]
        await sender
    return turn


def cut_off(turn: Turn) -> bool:
    """The first turn ended in the pause: it lacks the words after it."""
    if not turn.finals:
        return False
    after = turn.info["text"][len(turn.info["before_pause"]):].split()
    first = turn.finals[0].lower()
    tail = [w.strip(".,?!").lower() for w in after[-2:]]
    return not all(w in first for w in tail if w)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))] if s else float("nan")


async def run_mode(url: str, agent: str, pid: int, mode: str, fixtures: list[tuple[str, dict[str, Any]]],
                   speakers: int) -> dict[str, Any]:
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    audio_s = 0.0

    async def speaker(k: int) -> list[Turn]:
        nonlocal audio_s
        order = fixtures[k % len(fixtures):] + fixtures[:k % len(fixtures)]
        out = []
        for name, info in order:
            out.append(await run_fixture(url, agent, name, info, mode))
            audio_s += info["duration_s"] + TAIL_S
        return out

    turns = [t for group in await asyncio.gather(*(speaker(k) for k in range(speakers))) for t in group]
    cpu = cpu_seconds(pid) - cpu0
    paused = [t for t in turns if "pause_s" in t.info]
    complete = [t for t in turns if "pause_s" not in t.info and t.timings]
    gaps: list[float] = []  # audio between consecutive captions of an utterance spoken without a pause
    first: list[float] = []  # audio transcribed in the first caption
    for t in complete:
        ms = [a for _, a in t.partials]
        gaps += [b - a for a, b in itertools.pairwise(ms)]
        first += ms[:1]
    return {
        "mode": mode, "speakers": speakers, "turns": len(turns), "wall_s": time.monotonic() - t0,
        "cutoffs_unfinished": sum(cut_off(t) for t in paused if t.info["kind"] == "unfinished"),
        "paused_unfinished": sum(t.info["kind"] == "unfinished" for t in paused),
        "cutoffs_clause": sum(cut_off(t) for t in paused if t.info["kind"] == "complete_clause"),
        "paused_clause": sum(t.info["kind"] == "complete_clause" for t in paused),
        "cut": [t.name for t in paused if cut_off(t)],
        "endpointing": [t.timings["endpointing_ms"] for t in complete if t.timings and "endpointing_ms" in t.timings],
        "v2v": [t.timings["voice_to_voice_ms"] for t in complete if t.timings and "voice_to_voice_ms" in t.timings],
        "stt": [t.timings.get("stt_ms", 0.0) for t in complete if t.timings],
        "partials": sum(len(t.partials) for t in turns),
        "partial_gap_ms": gaps, "first_partial_ms": first,
        "cpu_s": cpu, "audio_s": audio_s,
    }


def report(rows: list[dict[str, Any]]) -> None:
    print(f"\nload average (1/5/15 min): {os.getloadavg()}")
    print(f"{'mode':>18} {'spk':>3} | {'cut-offs (unfinished)':>21} {'(clause)':>8} | {'endpointing p50/p95':>19} | "
          f"{'v2v p50/p95':>13} | {'stt p50':>7} | {'partials':>8} {'gap p95/max':>12} {'1st p50':>7} | "
          f"{'CPU s/min audio':>15}")
    for r in rows:
        print(f"{r['mode']:>18} {r['speakers']:>3} | {r['cutoffs_unfinished']:>12}/{r['paused_unfinished']:<8} "
              f"{r['cutoffs_clause']:>5}/{r['paused_clause']:<2} | "
              f"{pct(r['endpointing'], 50):>8.0f}/{pct(r['endpointing'], 95):<10.0f} | "
              f"{pct(r['v2v'], 50):>5.0f}/{pct(r['v2v'], 95):<7.0f} | {pct(r['stt'], 50):>7.0f} | "
              f"{r['partials']:>8} {pct(r['partial_gap_ms'], 95):>5.0f}/{max(r['partial_gap_ms'], default=0):<6.0f} "
              f"{pct(r['first_partial_ms'], 50):>7.0f} | "
              f"{r['cpu_s'] / r['audio_s'] * 60:>15.1f}")
    for r in rows:
        print(f"  {r['mode']} cut: {', '.join(r['cut']) or '-'}")


async def main(args: argparse.Namespace) -> list[dict[str, Any]]:
    paused = json.loads((FIXTURES / "paused" / "transcripts.json").read_text())["files"]
    single = json.loads((FIXTURES / "transcripts.json").read_text())["files"]
    fixtures = [(f"paused/{n}", info) for n, info in paused.items()]
    fixtures += [(n, {**single[n], "kind": "complete"}) for n in SINGLE_TURN]
    llm, (llm_port, _ctl) = await spawn([str(ROOT / "bench" / "fake_llm.py")], "PORT")
    server, (url, agent) = await spawn([__file__, "--serve", f"http://127.0.0.1:{llm_port}/v1"], "READY")
    rows = []
    try:
        await run_fixture(url, agent, "hello.wav", {}, "words")  # warm-up: first inference of each model
        for _ in range(args.reps):
            for speakers in args.speakers:
                for mode in args.modes.split(","):
                    row = await run_mode(url, agent, server.pid, mode, fixtures, speakers)
                    rows.append(row)
                    print(f"{mode} x{speakers}: done in {row['wall_s']:.0f} s", flush=True)
    finally:
        for proc in (server, llm):
            assert proc.stdin is not None
            proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await proc.wait()
            if proc.returncode is None:
                proc.kill()
    report(rows)
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", default="silence,silence+captions,words")
    ap.add_argument("--speakers", type=int, nargs="+", default=[1])
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--json", help="also write the raw rows here")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve:
        asyncio.run(serve_main(a.serve))
    else:
        print(f"load average before: {os.getloadavg()}", flush=True)
        result = asyncio.run(main(a))
        if a.json:
            Path(a.json).write_text(json.dumps(result, indent=1))
