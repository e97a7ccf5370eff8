"""Concurrent live voice sessions over loopback: how many before the p99 frame-handling delay passes 20 ms.

**Server** (its own process): the real app with scripted STT (returns "", so a turn ends after VAD +
endpointing + STT without an LLM) and scripted TTS. It measures, on the server:

- ``frame delay``: for every binary frame, from the session's reader getting it from aiohttp to the audio
  pipeline having processed it (resample, framing, VAD, turn detection, events sent); the process-wide
  histogram ``session.metrics.FRAME_DELAYS`` (0.05 ms buckets; ``/metrics`` exports the same values as
  ``voice_letta_audio_frame_delay_seconds``);
- ``loop lag``: a 5 ms sleep that measures how late it wakes, i.e. how long a frame that has just arrived
  on a socket waits before the loop gets to its reader. A frame's total delay is at most lag + handling;
- its CPU time (``time.process_time()``) over the streaming window.

**Load generators** (``--generators`` processes, sessions spread evenly): each opens its sockets with a
minimal WebSocket client on raw asyncio transports (bounded concurrency, generous timeout), waits until every
generator is connected, then drives ALL its sessions from ONE timer tick every 20 ms that writes one
pre-built, pre-masked (zero mask key) binary frame of 640 bytes (20 ms of PCM16 at 16 kHz) to each socket: no
per-session tasks, sleeps or per-frame encoding. The audio is fixture speech + 1 s of silence, looped, each
session at its own offset, so sessions start and end turns at different times (server VAD on). A late tick
sends the frames it missed, so the audio stays real time; the tick's lateness is reported as the
generator's own saturation signal. Every 0.5 s each session sends a ``ping`` behind its audio and times the
``pong`` (a client-side cross-check: includes both processes' queueing).

Reported per level: frame delay p50/p99/max, loop lag p50/p99/max, ping p50/p99, server CPU per
session-second of audio and as % of one core, generator CPU (sum over processes) as % of one core, the
generators' tick lateness p99, the whole machine's busy % (``/proc/stat``) and ``os.getloadavg()``, and
frames the server handled / frames sent.

    .venv/bin/python bench/voice_sessions.py --sessions 50 100 200 300 400 --seconds 10
    .venv/bin/python bench/voice_sessions.py --sessions 200 --seconds 10 --profile /tmp/server.prof

**Soak** (``--soak MINUTES``, one level: the first ``--sessions``): the same load for that long while the
server's RSS and open file descriptors are sampled every 10 s. The report gives both after a warm-up
(``--warmup-minutes``, default 2), at the end and at their highest, and the growth after warm-up (target under
5 %). ``--turn-every K`` makes every K-th utterance a real turn (its transcript is a sentence, the agent answers
through a fake OpenAI server in its own process, messages are stored and memory jobs run), so the agent, the
store and the memory layer are soaked too, not only the audio path. The report also gives the RSS slope over the
last third of the run (a leak keeps growing; warm-up levels off) and each sample counts the ended responses the
live sessions keep for a late truncate (bounded per session: ``session.MAX_RECENT_RESPONSES``), state that fills
during the first minutes of turns. ``--tracemalloc`` also compares Python
allocations between warm-up and end and prints the largest growths (it slows the server; diagnosis only).

    .venv/bin/python bench/voice_sessions.py --sessions 200 --soak 30 --turn-every 10
    .venv/bin/python bench/voice_sessions.py --sessions 200 --soak 30 --turn-every 10 --agents 20

Only 127.0.0.1 is used; every loop is bounded by --seconds (and the connect/exit timeouts).
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
sys.path.insert(0, str(ROOT / "bench"))

from bench_common import free_port  # noqa: E402
from voice_load import generate, open_generators, start_generators  # noqa: E402
from voice_server import serve  # noqa: E402
from voice_soak import soak  # noqa: E402


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [float(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


# --- driver -----------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--gen", action="store_true")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--db", default="")
    ap.add_argument("--agent", default="")
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--sessions", type=int, nargs="*", default=[50, 100, 200, 300, 400])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--generators", type=int, default=2)
    ap.add_argument("--profile", default="", help="cProfile the server over the last level into this file")
    ap.add_argument("--soak", type=float, default=0.0, metavar="MINUTES", help="one long level, RSS and fds sampled")
    ap.add_argument("--warmup-minutes", type=float, default=2.0)
    ap.add_argument("--turn-every", type=int, default=0, metavar="K", help="every K-th utterance is a real turn")
    ap.add_argument("--agents", type=int, default=1, metavar="K",
                    help="soak: the sessions take turns among K agents (one agent's data grows K times faster)")
    ap.add_argument("--tracemalloc", action="store_true", help="soak: compare Python allocations (slow)")
    args = ap.parse_args()
    if args.serve:
        asyncio.run(serve(args.port, args.db, args.profile, args.turn_every, args.tracemalloc))
        return
    if args.soak:
        soak(args)
        return
    if args.gen:
        asyncio.run(generate(args.port, args.agent, args.n, args.seconds, args.first))
        return
    import urllib.request

    port = free_port()
    tmp = tempfile.mkdtemp()
    server = subprocess.Popen([sys.executable, __file__, "--serve", "--port", str(port), "--db", f"{tmp}/b.db",
                               "--profile", args.profile], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"

    def get(path: str) -> dict[str, float]:
        return json.loads(urllib.request.urlopen(url + path, timeout=30).read())  # type: ignore[no-any-return]

    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        req = urllib.request.Request(url + "/v1/agents", data=json.dumps({"name": "bench"}).encode(),
                                     headers={"Content-Type": "application/json"})
        agent = json.loads(urllib.request.urlopen(req).read())["id"]
        print(f"# {os.cpu_count()} CPUs, load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        cols = ("sessions", "frame p50", "frame p99", "frame max", "lag p50", "lag p99", "lag max", "ping p50",
                "ping p99", "srv ms/s-s", "srv %core", "gen %core", "tick p99", "machine %", "load1", "frames ok",
                "errors")
        print(" ".join(f"{c:>10}" for c in cols), flush=True)
        for n in args.sessions:
            gens = open_generators(port, agent, n, args.generators, args.seconds)
            time.sleep(1.0)
            st0 = get("/bench/stats?reset=1")
            busy0, total0 = cpu_times()
            t0 = time.monotonic()
            start_generators(gens)
            results = []
            for g in gens:
                out, _ = g.communicate(timeout=args.seconds + 60)
                results.append(json.loads(out.strip().splitlines()[-1]))
            last = args.profile and n == args.sessions[-1]
            st = get("/bench/stats?dump=1" if last else "/bench/stats")
            wall = time.monotonic() - t0
            busy1, total1 = cpu_times()
            load1 = os.getloadavg()[0]
            rtts = [x for r in results for x in r["rtts"]]
            late = [x for r in results for x in r["late_ms"]]
            frames_sent = sum(r["frames"] for r in results)
            srv_cpu = st["cpu_s"] - st0["cpu_s"]
            row = {"sessions": n, "frame_p50_ms": st["frame_p50_ms"], "frame_p99_ms": st["frame_p99_ms"],
                   "frame_max_ms": st["frame_max_ms"], "lag_p50_ms": st["lag_p50_ms"], "lag_p99_ms": st["lag_p99_ms"],
                   "lag_max_ms": st["lag_max_ms"], "ping_p50_ms": pct(rtts, 50), "ping_p99_ms": pct(rtts, 99),
                   "server_cpu_ms_per_session_s": srv_cpu / (n * args.seconds) * 1000,
                   "server_cpu_pct": srv_cpu / wall * 100, "gen_cpu_pct": sum(r["cpu_s"] for r in results) / wall * 100,
                   "tick_late_p99_ms": pct(late, 99), "machine_busy_pct": (busy1 - busy0) / (total1 - total0) * 100,
                   "load1": load1, "frames_ok": st["frames"] / max(1, frames_sent),
                   "errors": sum(r["errors"] for r in results), "dropped": sum(r["dropped"] for r in results)}
            vals = list(row.values())
            print(f"{n:>10} " + " ".join(f"{v:>10.2f}" if isinstance(v, float) else f"{v:>10}" for v in vals[1:-1]),
                  flush=True)
            print("# " + json.dumps(row), flush=True)
            time.sleep(2.0)  # let the sessions close
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
