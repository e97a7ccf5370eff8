"""``voice-letta talk AGENT``: a push-to-talk voice client over the native protocol (``/v1/voice``).

Two ways to run it:

- **Microphone** (needs ``pip install 'voice-letta[client]'`` and PortAudio: ``apt-get install libportaudio2``).
  The talk key is **Enter, as a toggle**: press Enter to start talking, Enter again to send. (A terminal
  cannot see a key being *held* without raw mode and key-repeat guessing, and raw mode breaks Ctrl-C and
  pasting; Enter works in every terminal, over SSH and from a pipe.) The session runs in ``push_to_talk``
  mode: audio is sent while recording and ``input_audio.commit`` on the second Enter. The reply plays on
  the speakers while its text prints. Pressing Enter while the agent speaks interrupts it (barge-in): the
  playback stops, ``response.cancel`` and ``playback.stopped`` (what was heard) are sent, and recording
  starts. ``q`` + Enter or Ctrl-D quits.
- **Files** (no sound card): ``--input-file in.wav`` is sent instead of the microphone, then committed;
  ``--output-file out.wav`` receives the reply audio instead of the speakers. With ``--input-file`` the
  client exits after the reply. ``--json`` prints one JSON object per turn.

Output: ``you> <transcript>`` and ``agent> <reply>`` lines (errors on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
import wave
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voice_letta import config as C
from voice_letta.core.resample import StreamResampler

PROTOCOL = "voice-letta.v1"
MIC_RATE_HZ = 16000
OUTPUT_RATE_HZ = 24000
CHUNK_MS = 20
REPORT_EVERY_S = 0.1
REPLY_TIMEOUT_S = 120.0
CLEAR_LINE = "\r\x1b[K"
PORTAUDIO_HINT = ("PortAudio is not installed: apt-get install libportaudio2 (or brew install portaudio), "
                  "or use --input-file/--output-file to run without a sound card")


class TalkError(Exception):
    """A user-facing failure: printed without a traceback, exit status 2."""


# --- audio files ------------------------------------------------------------------------------------------
def read_wav(path: str) -> tuple[bytes, int]:
    """A WAV as PCM16 mono at a rate the server accepts (8/16/24/48 kHz; anything else → 16 kHz)."""
    try:
        with wave.open(path, "rb") as w:
            if w.getsampwidth() != 2:
                raise TalkError(f"{path}: only 16-bit PCM WAV files are supported")
            rate, channels = w.getframerate(), w.getnchannels()
            pcm = w.readframes(w.getnframes())
    except EOFError:  # the stdlib's answer to an empty file or a header cut short
        raise TalkError(f"{path} is not a WAV file (empty, or cut off in its header)") from None
    except (OSError, wave.Error) as exc:
        raise TalkError(f"cannot read {path}: {exc}") from exc
    pcm = pcm[: len(pcm) // (2 * channels) * 2 * channels]  # a file cut mid-sample: whole samples only
    if not pcm:
        raise TalkError(f"{path} holds no audio")
    if channels > 1:
        pcm = np.frombuffer(pcm, "<i2").reshape(-1, channels).mean(axis=1).astype("<i2").tobytes()
    if rate not in C.SUPPORTED_SAMPLE_RATES_HZ:
        r = StreamResampler(rate, MIC_RATE_HZ)
        pcm, rate = r.feed(pcm) + r.flush(), MIC_RATE_HZ
    return pcm, rate


def write_wav(path: str, pcm: bytes, rate: int) -> None:
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)


def import_sounddevice() -> Any:
    try:
        import sounddevice
    except ImportError as exc:
        raise TalkError("sounddevice is not installed: pip install 'voice-letta[client]' "
                        "(or use --input-file/--output-file)") from exc
    except OSError as exc:  # "PortAudio library not found"
        raise TalkError(PORTAUDIO_HINT) from exc
    return sounddevice


# --- one turn's state -------------------------------------------------------------------------------------
@dataclass
class Reply:
    response_id: str | None = None
    transcript: str = ""
    text: list[str] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    rate: int = OUTPUT_RATE_HZ
    status: str | None = None
    heard_text: str | None = None


class Speaker:
    """Plays reply audio through a sounddevice OutputStream; knows how much of the response has played."""

    def __init__(self, sd: Any, rate: int) -> None:
        self.rate = rate
        self._buf = bytearray()
        self._played_bytes = 0
        self._stream = sd.RawOutputStream(samplerate=rate, channels=1, dtype="int16", callback=self._callback,
                                          blocksize=rate * CHUNK_MS // 1000)
        self._stream.start()

    def _callback(self, outdata: Any, frames: int, _time: Any, _status: Any) -> None:  # PortAudio thread
        n = min(len(outdata), len(self._buf))
        outdata[:n] = self._buf[:n]
        outdata[n:] = b"\x00" * (len(outdata) - n)
        del self._buf[:n]
        self._played_bytes += n

    def play(self, pcm: bytes) -> None:
        self._buf += pcm

    def start_response(self) -> None:
        self._buf.clear()
        self._played_bytes = 0

    def stop(self) -> float:
        """Drop what has not played; returns ms played of the current response."""
        self._buf.clear()
        return self.played_ms

    @property
    def played_ms(self) -> float:
        return self._played_bytes / 2 * 1000 / self.rate

    @property
    def idle(self) -> bool:
        return not self._buf

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.stop()
            self._stream.close()


class TalkClient:
    def __init__(self, ws: Any, *, json_out: bool = False, speaker: Speaker | None = None) -> None:
        self.ws = ws
        self.json_out = json_out
        self.speaker = speaker
        self.reply = Reply()
        self.done = asyncio.Event()
        self.failed: str | None = None
        self.empty: str | None = None  # input_audio.empty's reason: the last commit held no words
        self._printed_agent = False
        # captions (transcript.partial) are drawn on one rewritten line, only on a terminal
        self.live = not json_out and sys.stdout.isatty()
        self.interactive = False  # microphone mode: an empty commit is reported and the session goes on

    # -- incoming messages -------------------------------------------------------------------------------
    async def run_receiver(self) -> None:
        async for raw in self.ws:
            if isinstance(raw, bytes):
                self.reply.audio += raw
                if self.speaker is not None:
                    self.speaker.play(raw)
                continue
            await self._on_message(json.loads(raw))

    async def _on_message(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        r = self.reply
        if kind == "transcript.partial":
            if self.live:  # a caption that the next one (or the final transcript) overwrites
                print(f"\r\x1b[K(you) {msg['text']}", end="", flush=True)
        elif kind == "transcript.final":
            r.transcript = msg["text"]
            if not self.json_out:
                print(f"{CLEAR_LINE if self.live else ''}you> {msg['text']}", flush=True)
        elif kind == "input_audio.empty":
            if self.live:
                print(CLEAR_LINE, end="", flush=True)
            if self.interactive:
                print(f"[nothing heard ({msg.get('reason')}): Enter to talk again]", file=sys.stderr, flush=True)
            self.empty = msg.get("reason") or "no_speech"
            self.done.set()
        elif kind == "response.created":
            r.response_id = msg["response_id"]
        elif kind == "response.audio.start":
            r.rate = msg["sample_rate_hz"]
            if self.speaker is not None:
                self.speaker.start_response()
        elif kind == "response.chunk":
            for choice in msg["chunk"].get("choices", []):
                text = (choice.get("delta") or {}).get("content") or ""
                if text:
                    r.text.append(text)
                    if not self.json_out:
                        print(("" if self._printed_agent else "agent> ") + text, end="", flush=True)
                        self._printed_agent = True
        elif kind == "playback.clear":
            if self.speaker is not None:
                played = self.speaker.stop()
                await self.send(type="playback.stopped", response_id=msg["response_id"], played_ms=round(played, 1),
                                reason="cleared")
        elif kind == "response.done":
            r.status, r.heard_text = msg["status"], msg.get("heard_text")
            if not self.json_out and self._printed_agent:
                print(" [interrupted]" if r.status == "cancelled" else "", flush=True)
            self._printed_agent = False
            self.done.set()
        elif kind == "error":
            print(f"error: {msg.get('code')}: {msg.get('message')}", file=sys.stderr, flush=True)
            if msg.get("code") in ("agent_not_found", "stt_unavailable", "no_agent", "session_not_configured"):
                self.failed = msg.get("code")
                self.done.set()

    async def send(self, **msg: Any) -> None:
        await self.ws.send(json.dumps(msg))

    async def configure(self, agent: str | None, input_rate_hz: int) -> None:
        session: dict[str, Any] = {"turn_mode": "push_to_talk", "input_sample_rate_hz": input_rate_hz,
                                   "output_sample_rate_hz": OUTPUT_RATE_HZ}
        if agent is not None:  # with --identity the URL already chose the person's agent
            session["agent"] = agent
        await self.send(type="session.update", session=session)

    def new_turn(self) -> None:
        self.reply = Reply()
        self.empty = None
        self.done.clear()

    def result(self) -> dict[str, Any]:
        r = self.reply
        return {"transcript": r.transcript, "reply": "".join(r.text), "response_id": r.response_id,
                "status": r.status, "heard_text": r.heard_text,
                "audio_ms": round(len(r.audio) / 2 * 1000 / r.rate, 1), "sample_rate_hz": r.rate}


# --- connection -------------------------------------------------------------------------------------------
def voice_url(base: str, agent: str, identity: str | None = None) -> str:
    from urllib.parse import quote

    base = base.rstrip("/")
    ws_base = "wss://" + base[8:] if base.startswith("https://") else "ws://" + base.removeprefix("http://")
    url = f"{ws_base}/v1/voice?agent={quote(agent)}"
    return url + f"&identity={quote(identity)}" if identity else url


async def _connect(args: argparse.Namespace) -> Any:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidHandshake, InvalidStatus

    base = args.url or os.environ.get(C.URL_ENV) or C.DEFAULT_URL
    key = os.environ.get(C.API_KEY_ENV)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        url = voice_url(base, args.agent, getattr(args, "identity", None))
        return await connect(url, subprotocols=[PROTOCOL],  # type: ignore[list-item]
                             additional_headers=headers, max_size=None)
    except InvalidStatus as exc:
        raise TalkError(f"server refused the connection: HTTP {exc.response.status_code}"
                        + (f" (set {C.API_KEY_ENV})" if exc.response.status_code == 401 else "")) from exc
    except (OSError, InvalidHandshake) as exc:
        raise TalkError(f"cannot connect to {base}: {exc}") from exc


async def _wait_ready(client: TalkClient) -> None:
    """Wait for ``session.updated`` (or an error) after ``configure``."""
    async with asyncio.timeout(15):
        async for raw in client.ws:
            if isinstance(raw, bytes):
                continue
            msg = json.loads(raw)
            if msg.get("type") == "session.updated":
                return
            if msg.get("type") == "error":
                raise TalkError(f"{msg.get('code')}: {msg.get('message')}")


# --- file mode -------------------------------------------------------------------------------------------
async def run_files(args: argparse.Namespace) -> int:
    pcm, rate = read_wav(args.input_file)
    sd = None if args.output_file else import_sounddevice()
    async with await _connect(args) as ws:
        speaker = Speaker(sd, OUTPUT_RATE_HZ) if sd is not None else None
        client = TalkClient(ws, json_out=args.json, speaker=speaker)
        try:
            await client.configure(None if getattr(args, "identity", None) else args.agent, rate)
            await _wait_ready(client)
            receiver = asyncio.create_task(client.run_receiver())
            step = rate * 100 // 1000 * 2  # 100 ms chunks, as fast as the socket takes them
            for off in range(0, len(pcm), step):
                await ws.send(pcm[off:off + step])
            await client.send(type="input_audio.commit")
            try:
                async with asyncio.timeout(REPLY_TIMEOUT_S):
                    await client.done.wait()
            except TimeoutError:
                raise TalkError(f"no reply within {REPLY_TIMEOUT_S:.0f} s") from None
            if speaker is not None:
                while not speaker.idle:  # noqa: ASYNC110 - the PortAudio thread drains the buffer
                    await asyncio.sleep(0.05)
            receiver.cancel()
            await asyncio.wait([receiver])
        finally:
            if speaker is not None:
                speaker.close()
    r = client.reply
    if args.output_file:
        write_wav(args.output_file, bytes(r.audio), r.rate)
    if args.json:
        print(json.dumps(client.result()), flush=True)
    if client.failed:
        return 1
    if client.empty is not None or not r.transcript:
        why = {"no_speech": "no speech", "too_short": "too little speech", "no_words": "no words"}.get(
            client.empty or "", "no words")
        print(f"nothing was heard in the input file ({why})", file=sys.stderr)
        return 1
    return 0 if r.status == "completed" else 1


# --- microphone mode ------------------------------------------------------------------------------------
async def run_mic(args: argparse.Namespace) -> int:
    sd = import_sounddevice()
    try:
        sd.check_input_settings(samplerate=MIC_RATE_HZ, channels=1, dtype="int16")
    except Exception as exc:  # PortAudioError, ValueError: no default device / unsupported
        raise TalkError(f"no usable microphone ({exc}); check your audio devices, or use --input-file") from exc
    loop = asyncio.get_running_loop()
    mic_q: asyncio.Queue[bytes] = asyncio.Queue()
    recording = False

    def on_audio(indata: Any, _frames: int, _time: Any, _status: Any) -> None:  # PortAudio thread
        if recording:
            loop.call_soon_threadsafe(mic_q.put_nowait, bytes(indata))

    keys: asyncio.Queue[str | None] = asyncio.Queue()
    reader = _stdin_lines(loop, keys)
    async with await _connect(args) as ws:
        speaker = None if args.output_file else Speaker(sd, OUTPUT_RATE_HZ)
        client = TalkClient(ws, json_out=args.json, speaker=speaker)
        client.interactive = True
        await client.configure(None if getattr(args, "identity", None) else args.agent, MIC_RATE_HZ)
        await _wait_ready(client)
        tasks = [asyncio.create_task(client.run_receiver())]

        async def sender() -> None:
            while True:
                await ws.send(await mic_q.get())

        async def reporter() -> None:
            while True:
                await asyncio.sleep(REPORT_EVERY_S)
                rid = client.reply.response_id
                if speaker is not None and rid and not client.done.is_set() and client.reply.audio:
                    await client.send(type="playback.progress", response_id=rid, played_ms=round(speaker.played_ms, 1))

        tasks += [asyncio.create_task(sender()), asyncio.create_task(reporter())]
        mic = sd.RawInputStream(samplerate=MIC_RATE_HZ, channels=1, dtype="int16", callback=on_audio,
                                blocksize=MIC_RATE_HZ * CHUNK_MS // 1000, latency="low")
        mic.start()
        print("Press Enter to talk, Enter again to send (q + Enter to quit).", file=sys.stderr, flush=True)
        try:
            while (line := await keys.get()) is not None:
                if line.strip().lower() in ("q", "quit", "exit"):
                    break
                if not recording:
                    speaking = client.reply.response_id is not None and not client.done.is_set()
                    if speaking or (speaker is not None and not speaker.idle):  # barge-in
                        played = speaker.stop() if speaker is not None else 0.0
                        if client.reply.response_id:
                            await client.send(type="playback.stopped", response_id=client.reply.response_id,
                                              played_ms=round(played, 1), reason="interrupted")
                        await client.send(type="response.cancel")
                    await client.send(type="input_audio.clear")
                    client.new_turn()
                    recording = True
                    print("[recording… Enter to send]", file=sys.stderr, flush=True)
                else:
                    recording = False
                    await asyncio.sleep(CHUNK_MS / 1000 * 2)  # let the last blocks out
                    while not mic_q.empty():
                        await ws.send(mic_q.get_nowait())
                    await client.send(type="input_audio.commit")
                    if args.json:
                        tasks.append(asyncio.create_task(_print_when_done(client)))
        finally:
            mic.stop()
            mic.close()
            reader()
            for t in tasks:
                t.cancel()
            await asyncio.wait(tasks)
            if speaker is not None:
                speaker.close()
    if args.output_file:
        write_wav(args.output_file, bytes(client.reply.audio), client.reply.rate)
    return 0


async def _print_when_done(client: TalkClient) -> None:
    await client.done.wait()
    print(json.dumps(client.result()), flush=True)


def _stdin_lines(loop: asyncio.AbstractEventLoop, out: asyncio.Queue[str | None]) -> Any:
    """Feed stdin lines into ``out`` (``None`` at EOF) without blocking the loop; returns a stop function."""
    fd = sys.stdin.fileno()

    def readable() -> None:
        line = sys.stdin.readline()
        out.put_nowait(line if line else None)
        if not line:
            loop.remove_reader(fd)

    try:
        loop.add_reader(fd, readable)
        return lambda: loop.remove_reader(fd)
    except (NotImplementedError, ValueError, OSError):  # e.g. Windows: read in a thread instead
        async def pump() -> None:
            while line := await asyncio.to_thread(sys.stdin.readline):
                out.put_nowait(line)
            out.put_nowait(None)

        task = loop.create_task(pump())
        return task.cancel


# --- entry point ------------------------------------------------------------------------------------------
def main(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        code = asyncio.run(run_files(args) if args.input_file else run_mic(args))
    except TalkError as exc:
        print(f"voice-letta talk: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if getattr(args, "verbose", False):
        print(f"[{time.monotonic() - started:.1f} s]", file=sys.stderr)
    return code

