"""The load generator processes of ``bench/voice_sessions.py`` (``--gen``): many sessions driven from one timer
tick on raw asyncio transports, and the driver's side of starting them.

See ``bench/voice_sessions.py`` for what is measured and the command lines.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench_common import ROOT

SCRIPT = str(Path(__file__).resolve().with_name("voice_sessions.py"))  # the processes run the bench's own command line
FRAME_S = 0.02
FRAME_BYTES = 640  # 20 ms of PCM16 mono at 16 kHz
PING_EVERY = 25  # frames (0.5 s)


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


def open_generators(port: int, agent: str, n: int, generators: int, seconds: float) -> list[subprocess.Popen[str]]:
    """Start ``generators`` processes sharing ``n`` sessions evenly; return once every socket is open."""
    per = [n // generators + (1 if i < n % generators else 0) for i in range(generators)]
    firsts = [sum(per[:i]) for i in range(len(per))]
    gens = [subprocess.Popen([sys.executable, SCRIPT, "--gen", "--port", str(port), "--agent", agent,
                              "--n", str(k), "--first", str(f), "--seconds", str(seconds)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
            for k, f in zip(per, firsts, strict=True) if k]
    for g in gens:  # every socket open before the clock starts
        assert g.stdout is not None
        line = g.stdout.readline().split()
        assert line and line[0] == "open", f"generator failed to open its sessions: {line}"
    return gens


def start_generators(gens: list[subprocess.Popen[str]]) -> None:
    """Every generator starts streaming ("go" on its stdin)."""
    for g in gens:
        assert g.stdin is not None
        g.stdin.write("go\n")
        g.stdin.flush()
