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

This module runs the two modes and reads the keyboard; ``clients.talk_client`` speaks the protocol and
``clients.talk_audio`` reads and writes WAV files and drives the speakers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from voice_letta.clients.talk_audio import (
    CHUNK_MS,
    MIC_RATE_HZ,
    OUTPUT_RATE_HZ,
    Speaker,
    TalkError,
    import_sounddevice,
    read_wav,
    write_wav,
)
from voice_letta.clients.talk_client import TalkClient, connect_voice, wait_ready

REPORT_EVERY_S = 0.1
REPLY_TIMEOUT_S = 120.0


# --- file mode -------------------------------------------------------------------------------------------
async def run_files(args: argparse.Namespace) -> int:
    pcm, rate = read_wav(args.input_file)
    sd = None if args.output_file else import_sounddevice()
    async with await connect_voice(args) as ws:
        speaker = Speaker(sd, OUTPUT_RATE_HZ) if sd is not None else None
        client = TalkClient(ws, json_out=args.json, speaker=speaker)
        try:
            await client.configure(None if getattr(args, "identity", None) else args.agent, rate)
            await wait_ready(client)
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
    async with await connect_voice(args) as ws:
        speaker = None if args.output_file else Speaker(sd, OUTPUT_RATE_HZ)
        client = TalkClient(ws, json_out=args.json, speaker=speaker)
        client.interactive = True
        await client.configure(None if getattr(args, "identity", None) else args.agent, MIC_RATE_HZ)
        await wait_ready(client)
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

