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
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FRAME_S = 0.02
FRAME_BYTES = 640  # 20 ms of PCM16 mono at 16 kHz
PING_EVERY = 25  # frames (0.5 s)


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


# --- server process ---------------------------------------------------------------------------------------
async def serve(port: int, db: str, profile: str, turn_every: int = 0, trace: bool = False) -> None:
    import gc
    import tracemalloc

    from aiohttp import web

    from tests.fakes.scripted_speech import ScriptedSTT, ScriptedTTS
    from voice_letta.config import ServerConfig
    from voice_letta.server.app import Overrides, create_app
    from voice_letta.session.metrics import FRAME_DELAYS, DelayHistogram

    if trace:
        tracemalloc.start(1)
    stt_calls = [0]

    def transcript(pcm: bytes, rate: int) -> str:
        # Every turn_every-th utterance is a real turn (the agent answers); the others transcribe to "".
        stt_calls[0] += 1
        return "Please tell me one short fact." if turn_every and stt_calls[0] % turn_every == 0 else ""

    app = create_app(ServerConfig(db_path=Path(db), api_key=None),
                     Overrides(stt=ScriptedSTT(transcript, record=False), tts=ScriptedTTS()))
    snaps: dict[str, tracemalloc.Snapshot] = {}
    lags = DelayHistogram()
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()

    async def stats(request: web.Request) -> web.Response:
        ms = 1000.0
        body = {"frame_p50_ms": FRAME_DELAYS.percentile(50) * ms, "frame_p99_ms": FRAME_DELAYS.percentile(99) * ms,
                "frame_max_ms": _max(FRAME_DELAYS) * ms, "frames": FRAME_DELAYS.n,
                "lag_p50_ms": lags.percentile(50) * ms, "lag_p99_ms": lags.percentile(99) * ms,
                "lag_max_ms": _max(lags) * ms, "cpu_s": time.process_time()}
        if request.query.get("reset"):
            lags.reset()
            FRAME_DELAYS.reset()
            if prof is not None:
                prof.enable()
        if request.query.get("dump") and prof is not None:
            prof.disable()
            prof.dump_stats(profile)
        with open("/proc/self/status") as f:
            body["rss_mb"] = next(int(x.split()[1]) for x in f if x.startswith("VmRSS")) / 1024
        body["fds"] = len(os.listdir("/proc/self/fd"))
        body["stt_calls"] = stt_calls[0]
        if request.query.get("kept"):  # per-session bounded state: ended responses kept for a late truncate
            from voice_letta.session.session import VoiceSession

            live = [o for o in gc.get_objects() if isinstance(o, VoiceSession)]
            body["sessions_live"] = len(live)
            body["responses_kept"] = sum(len(getattr(o, "_recent", ())) for o in live)
        name = request.query.get("snap")
        if name and trace:
            gc.collect()
            snaps[name] = tracemalloc.take_snapshot()
            base = request.query.get("base")
            if base in snaps:
                top = snaps[name].compare_to(snaps[base], "lineno")[:15]
                body["top"] = [f"{st.size_diff / 1024:+.0f} KiB {st.count_diff:+d} {st.traceback[0]}" for st in top]
        return web.json_response(body)

    app.router.add_get("/bench/stats", stats)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)  # the driver's terminate(): shut the app down properly
    while not stop.is_set():
        t = loop.time()
        await asyncio.sleep(0.005)
        lags.observe(max(0.0, loop.time() - t - 0.005))
    await runner.cleanup()


def _max(h: object) -> float:
    counts = h.counts  # type: ignore[attr-defined]
    for i in range(len(counts) - 1, -1, -1):
        if counts[i]:
            return (i + 1) * h.step_s  # type: ignore[attr-defined]
    return 0.0


# --- load generator process --------------------------------------------------------------------------------
def _client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame with the all-zero mask key, so the payload goes out as is."""
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


class _Conn(asyncio.Protocol):
    """One session: HTTP upgrade, then parse the (few) server frames: pongs, errors, pings, close."""

    def __init__(self, request: bytes, rtts: list[float], errors: list[int]) -> None:
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending: dict[str, float] = {}
        self.rtts = rtts
        self.errors = errors
        self.offset = 0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed during the handshake: {exc}"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            del buf[: end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(head.split(b"\r\n")[0].decode()))
                return
            self.upgraded = True
            self.opened.set_result(None)
        while len(buf) >= 2:
            op, n, hl = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, hl = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, hl = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < hl + n:
                return
            payload = bytes(buf[hl : hl + n])
            del buf[: hl + n]
            if op == 1:
                if payload.startswith(b'{"type":"pong"'):
                    sent = self.pending.pop(json.loads(payload)["event_id"], None)
                    if sent is not None:
                        self.rtts.append((time.monotonic() - sent) * 1000.0)
                elif payload.startswith(b'{"type":"error"'):
                    self.errors[0] += 1
            elif op == 9 and self.transport is not None:
                self.transport.write(_client_frame(0xA, payload))
            elif op == 8:
                self.closed = True


async def generate(port: int, agent: str, n: int, seconds: float, first: int) -> None:
    from tests.fakes.native_client import load_wav, silence

    loop = asyncio.get_running_loop()
    speech, _ = load_wav("hello.wav")
    pcm = speech + silence(1000)
    pcm = pcm[: len(pcm) // FRAME_BYTES * FRAME_BYTES]
    frames = [_client_frame(0x2, pcm[i : i + FRAME_BYTES]) for i in range(0, len(pcm), FRAME_BYTES)]
    rtts: list[float] = []
    errors = [0]
    conns: list[_Conn] = []
    gate = asyncio.Semaphore(32)

    async def open_one(i: int) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        agents = agent.split(",")  # --soak --agents K: the sessions take turns among K agents
        mine = agents[(first + i) % len(agents)]
        req = (f"GET /v1/voice?agent={mine} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Protocol: voice-letta.v1\r\n\r\n").encode()
        async with gate:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _Conn(req, rtts, errors), "127.0.0.1", port), 60)
            await asyncio.wait_for(conn.opened, 60)
        conn.offset = ((first + i) * 37) % len(frames)
        conns.append(conn)

    t_open = time.monotonic()
    await asyncio.gather(*(open_one(i) for i in range(n)))
    print(f"open {len(conns)} {time.monotonic() - t_open:.1f}", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # "go"

    cpu0 = time.process_time()
    total_ticks = int(seconds / FRAME_S)
    late: list[float] = []
    sent = 0
    nframes = len(frames)
    done: asyncio.Future[None] = loop.create_future()
    t0 = loop.time()

    def tick() -> None:
        nonlocal sent
        now = loop.time()
        late.append((now - (t0 + sent * FRAME_S)) * 1000.0)
        due = min(total_ticks, int((now - t0) / FRAME_S) + 1)
        while sent < due:
            k = sent
            for c in conns:
                if not c.closed:
                    c.transport.write(frames[(k + c.offset) % nframes])  # type: ignore[union-attr]
            for j in range(k % PING_EVERY, len(conns), PING_EVERY):  # each session pings every 0.5 s
                c = conns[j]
                if not c.closed:
                    pid = f"{k}.{j}"
                    c.pending[pid] = time.monotonic()
                    c.transport.write(_client_frame(0x1, b'{"type":"ping","event_id":"%s"}' % pid.encode()))  # type: ignore[union-attr]
            sent += 1
        if sent >= total_ticks:
            done.set_result(None)
        else:
            loop.call_at(t0 + sent * FRAME_S, tick)

    loop.call_at(t0, tick)
    await done
    cpu = time.process_time() - cpu0
    dropped = sum(c.closed for c in conns)  # closed by the server while streaming
    await asyncio.sleep(0.5)  # late pongs
    for c in conns:
        if not c.closed and c.transport is not None:
            c.transport.write(_client_frame(0x8, (1000).to_bytes(2, "big")))
    await asyncio.sleep(0.2)
    for c in conns:
        if c.transport is not None:
            c.transport.close()
    print(json.dumps({"rtts": rtts, "errors": errors[0], "cpu_s": cpu, "late_ms": late, "frames": sent * len(conns),
                      "dropped": dropped}), flush=True)


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
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
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
            per = [n // args.generators + (1 if i < n % args.generators else 0) for i in range(args.generators)]
            firsts = [sum(per[:i]) for i in range(len(per))]
            gens = [subprocess.Popen([sys.executable, __file__, "--gen", "--port", str(port), "--agent", agent,
                                      "--n", str(k), "--first", str(f), "--seconds", str(args.seconds)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
                    for k, f in zip(per, firsts, strict=True) if k]
            for g in gens:  # every socket open before the clock starts
                assert g.stdout is not None
                line = g.stdout.readline().split()
                assert line and line[0] == "open", f"generator failed to open its sessions: {line}"
            time.sleep(1.0)
            st0 = get("/bench/stats?reset=1")
            busy0, total0 = cpu_times()
            t0 = time.monotonic()
            for g in gens:
                assert g.stdin is not None
                g.stdin.write("go\n")
                g.stdin.flush()
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


def soak(args: argparse.Namespace) -> None:
    """One level for ``--soak`` minutes; the server's RSS and fds every 10 s; growth after the warm-up."""
    import socket
    import urllib.request

    n = args.sessions[0]
    seconds = args.soak * 60
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = tempfile.mkdtemp()
    llm: tuple[subprocess.Popen[str], str] | None = None
    if args.turn_every:  # the fake LLM of bench/fake_llm.py, in its own process
        fake = subprocess.Popen([sys.executable, str(ROOT / "bench" / "fake_llm.py")], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert fake.stdout is not None
        llm = (fake, f"http://127.0.0.1:{int(fake.stdout.readline().split()[1])}/v1")
    cmd = [sys.executable, __file__, "--serve", "--port", str(port), "--db", f"{tmp}/b.db",
           "--turn-every", str(args.turn_every)] + (["--tracemalloc"] if args.tracemalloc else [])
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                              env={**os.environ, "BENCH_LLM_KEY": "sk-fake"})
    url = f"http://127.0.0.1:{port}"

    def get(path: str) -> dict[str, Any]:
        return json.loads(urllib.request.urlopen(url + path, timeout=600).read())  # type: ignore[no-any-return]

    samples: list[tuple[float, float, int]] = []  # (minutes, rss MB, fds)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        agent_ids = []
        for k in range(args.agents):
            body: dict[str, Any] = {"name": f"soak-{k}"}
            if llm is not None:
                body["llm"] = {"provider": "openai", "model": "fake-model", "base_url": llm[1],
                               "api_key_env": "BENCH_LLM_KEY"}
                body["sleeptime_llm"] = {**body["llm"], "model": "fake-sleeptime"}
            req = urllib.request.Request(url + "/v1/agents", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
            agent_ids.append(json.loads(urllib.request.urlopen(req).read())["id"])
        agent = ",".join(agent_ids)
        load0 = os.getloadavg()
        per = [n // args.generators + (1 if i < n % args.generators else 0) for i in range(args.generators)]
        firsts = [sum(per[:i]) for i in range(len(per))]
        gens = [subprocess.Popen([sys.executable, __file__, "--gen", "--port", str(port), "--agent", agent, "--n",
                                  str(k), "--first", str(f), "--seconds", str(seconds)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
                for k, f in zip(per, firsts, strict=True) if k]
        for g in gens:
            assert g.stdout is not None
            line = g.stdout.readline().split()
            assert line and line[0] == "open", f"generator failed to open its sessions: {line}"
        for g in gens:
            assert g.stdin is not None
            g.stdin.write("go\n")
            g.stdin.flush()
        t0 = time.monotonic()
        snapped = False
        top: list[str] = []
        while time.monotonic() - t0 < seconds:
            minutes = (time.monotonic() - t0) / 60
            st = get("/bench/stats?kept=1")
            samples.append((minutes, st["rss_mb"], st["fds"]))
            print(f"# {minutes:5.1f} min: rss {st['rss_mb']:.1f} MB, fds {st['fds']}, stt calls {st['stt_calls']}, "
                  f"responses kept {st['responses_kept']}, load {os.getloadavg()[0]:.2f}", flush=True)
            if args.tracemalloc and not snapped and minutes >= args.warmup_minutes:
                get("/bench/stats?snap=warm")
                snapped = True
            time.sleep(10)
        if args.tracemalloc:
            top = get("/bench/stats?snap=end&base=warm").get("top", [])
        results = []
        for g in gens:
            out, _ = g.communicate(timeout=300)
            results.append(json.loads(out.strip().splitlines()[-1]))
        st = get("/bench/stats")
        samples.append(((time.monotonic() - t0) / 60, st["rss_mb"], st["fds"]))
        turns = sum(1 for a in agent_ids for m in get(f"/v1/agents/{a}/messages?limit=10000")["data"]
                    if m["role"] == "user")
        jobs = [j for a in agent_ids for j in get(f"/v1/agents/{a}/memory/jobs?limit=1000")["data"]]
    finally:
        server.terminate()
        server.wait(timeout=30)
        if llm is not None:
            assert llm[0].stdin is not None
            llm[0].stdin.close()  # the fake stops when its stdin closes
            llm[0].wait(timeout=30)
    after = [x for x in samples if x[0] >= args.warmup_minutes] or samples
    # A leak grows linearly; warm-up (caches, each session's bounded history filling) levels off. The slope of
    # the last third of the run (least squares, sessions still live) tells them apart.
    live = samples[:-1] if len(samples) > 2 else samples
    tail = live[len(live) * 2 // 3:] if len(live) >= 6 else live
    tm = sum(x[0] for x in tail) / len(tail)
    tr = sum(x[1] for x in tail) / len(tail)
    var = sum((x[0] - tm) ** 2 for x in tail)
    slope = sum((x[0] - tm) * (x[1] - tr) for x in tail) / var if var else 0.0
    rss0, rss_end, rss_max = after[0][1], after[-1][1], max(x[1] for x in after)
    report = {
        "sessions": n, "agents": args.agents, "minutes": args.soak, "warmup_minutes": args.warmup_minutes,
        "turn_every": args.turn_every,
        "rss_first_mb": round(samples[0][1], 1), "rss_after_warmup_mb": round(rss0, 1),
        "rss_end_mb": round(rss_end, 1), "rss_max_mb": round(rss_max, 1),
        "growth_after_warmup_pct": round((rss_end - rss0) / rss0 * 100, 2),
        "max_growth_after_warmup_pct": round((rss_max - rss0) / rss0 * 100, 2),
        "rss_slope_last_third_mb_per_min": round(slope, 3),
        "rss_slope_last_third_pct_per_hour": round(slope * 60 / rss0 * 100, 2),
        "fds_after_warmup": [min(x[2] for x in after), max(x[2] for x in after)],
        "stt_calls": st["stt_calls"], "turns": turns, "memory_jobs_done": sum(j["status"] == "done" for j in jobs),
        "memory_jobs": len(jobs), "dropped": sum(r["dropped"] for r in results),
        "errors": sum(r["errors"] for r in results), "frames_ok": round(st["frames"] / max(1, sum(
            r["frames"] for r in results)), 4), "load_before": [round(x, 2) for x in load0],
        "load_after": [round(x, 2) for x in os.getloadavg()], "tracemalloc_top": top,
    }
    print(json.dumps(report, indent=1))
    verdict = "PASS" if report["growth_after_warmup_pct"] < 5 and not report["dropped"] else "FAIL"
    print(f"{verdict}: RSS {rss0:.1f} -> {rss_end:.1f} MB after warm-up ({report['growth_after_warmup_pct']:+.2f} %, "
          f"target < 5 %), fds {report['fds_after_warmup']}, {report['dropped']} sessions dropped")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
