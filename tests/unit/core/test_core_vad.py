from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import pytest
from core_signals import frames, silence, voiced, white_noise

from voice_letta.core.framer import Framer
from voice_letta.core.resample import StreamResampler
from voice_letta.core.turns import SpeechStarted, TurnDetector, UtteranceReady, VadParams
from voice_letta.core.vad import SileroVad, VadGate, VoiceDetector, WebRtcVad, default_silero_model_path
from voice_letta.errors import ProtocolViolation


def speech_ratio(det: VoiceDetector | VadGate, pcm: bytes, frame_bytes: int = 640) -> float:
    fr = frames(pcm, frame_bytes)
    return sum(det.is_speech(f) > 0.5 for f in fr) / len(fr)


def run_chain(pcm: bytes, params: VadParams | None = None) -> list[object]:
    params = params or VadParams()
    gate = VadGate.from_params(params)
    det = TurnDetector(params)
    events: list[object] = []
    for i, f in enumerate(Framer(16000, 20).feed(pcm)):
        events += det.feed(gate.is_speech(f), f, i * 0.02)
    return events


def test_webrtc_vad_is_a_voice_detector() -> None:
    vad = WebRtcVad(2, 16000, 20)
    assert isinstance(vad, VoiceDetector)
    assert (vad.sample_rate_hz, vad.frame_ms) == (16000, 20)


def test_digital_silence_is_never_speech() -> None:
    assert speech_ratio(WebRtcVad(0), silence(2000)) == 0.0
    assert speech_ratio(VadGate(WebRtcVad(0)), silence(2000)) == 0.0


def test_near_silent_noise_is_stopped_by_the_energy_gate() -> None:
    noise = white_noise(3000, dbfs=-60.0)
    assert speech_ratio(VadGate(WebRtcVad(0), min_volume_dbfs=-50.0), noise) == 0.0


def test_steady_noise_does_not_start_a_turn() -> None:
    for dbfs in (-60.0, -45.0, -35.0):
        events = run_chain(white_noise(5000, dbfs=dbfs, seed=7))
        assert not any(isinstance(e, SpeechStarted) for e in events), dbfs


@pytest.mark.parametrize("rate", [8000, 16000])
def test_synthetic_voiced_signal_is_flagged_as_speech(rate: int) -> None:
    vad = WebRtcVad(3, rate, 20)
    assert speech_ratio(vad, voiced(2000, rate=rate), frame_bytes=rate // 50 * 2) > 0.9


def test_voiced_signal_through_the_chain_gives_one_utterance() -> None:
    pcm = silence(1000) + voiced(1500) + silence(1000)
    events = run_chain(pcm)
    ready = [e for e in events if isinstance(e, UtteranceReady)]
    assert len(ready) == 1
    assert ready[0].audio_start_ms == pytest.approx(700, abs=40)  # speech at 1000 ms, 300 ms padding
    assert ready[0].duration_ms == pytest.approx(2100, abs=60)  # 300 + 1500 + 300


def test_quiet_voice_below_the_gate_is_ignored() -> None:
    quiet = voiced(1500, amplitude=0.001)  # about -65 dBFS
    assert not any(isinstance(e, SpeechStarted) for e in run_chain(silence(500) + quiet + silence(500)))


HAS_TTS = bool(shutil.which("espeak-ng") or shutil.which("flite"))


def synthesized_speech(tmp_path: Path) -> bytes:
    """A real spoken sentence (espeak-ng or flite) as 16 kHz PCM16."""
    wav = str(tmp_path / "s.wav")
    text = "Hello there, this is a short test of the voice activity detector."
    if shutil.which("espeak-ng"):
        subprocess.run(["espeak-ng", "-w", wav, text], check=True, capture_output=True)
    else:
        subprocess.run(["flite", "-t", text, "-o", wav], check=True, capture_output=True)
    with wave.open(wav) as w:
        rate: int = w.getframerate()
        pcm: bytes = w.readframes(w.getnframes())
    if rate != 16000:
        r = StreamResampler(rate, 16000)
        pcm = r.feed(pcm) + r.flush()
    return pcm


@pytest.mark.skipif(not HAS_TTS, reason="no espeak-ng/flite on PATH")
def test_real_synthesized_speech_gives_one_utterance(tmp_path: Path) -> None:
    events = run_chain(silence(1000) + synthesized_speech(tmp_path) + silence(1500))
    ready = [e for e in events if isinstance(e, UtteranceReady)]
    assert len(ready) == 1
    assert 600 <= ready[0].audio_start_ms <= 1000


def test_vad_input_validation() -> None:
    with pytest.raises(ProtocolViolation):
        WebRtcVad(4)
    with pytest.raises(ProtocolViolation):
        WebRtcVad(2, 24000)
    with pytest.raises(ProtocolViolation):
        WebRtcVad(2, 16000, 25)
    with pytest.raises(ProtocolViolation):
        WebRtcVad(2, 16000, 20).is_speech(bytes(800))


class Scripted:
    """A VoiceDetector returning scripted scores."""

    sample_rate_hz = 16000
    frame_ms = 20

    def __init__(self, scores: list[float]) -> None:
        self.scores = list(scores)

    def is_speech(self, frame: bytes) -> float:
        return self.scores.pop(0)

    def reset(self) -> None:
        pass


def test_gate_hysteresis_keeps_speech_through_a_dip() -> None:
    loud = voiced(20)
    gate = VadGate(Scripted([0.4, 0.6, 0.4, 0.3, 0.6]), threshold=0.5, hysteresis=0.15)
    assert [gate.is_speech(loud) for _ in range(5)] == [False, True, True, False, True]
    assert gate.last_score == 0.6


def _silero() -> SileroVad:
    pytest.importorskip("onnxruntime")
    if default_silero_model_path() is None:
        pytest.skip("silero_vad_v6.onnx not installed")
    try:
        return SileroVad(frame_ms=20)
    except (ImportError, FileNotFoundError) as exc:  # pragma: no cover
        pytest.skip(f"Silero not loadable: {exc}")


def test_silero_scores_silence_and_faint_noise_low() -> None:
    vad = _silero()
    assert isinstance(vad, VoiceDetector)
    scores = [vad.is_speech(f) for f in frames(silence(1000) + white_noise(1000, dbfs=-60.0), 640)]
    assert max(scores) < 0.2


def test_silero_buffers_frames_into_512_sample_windows_and_resets() -> None:
    vad = _silero()
    f = frames(voiced(100), 640)
    assert vad.is_speech(f[0]) == 0.0  # 320 samples: no window yet
    assert vad.is_speech(f[1]) > 0.0  # 640 samples: one window ran
    vad.reset()
    assert vad.is_speech(f[0]) == 0.0
    with pytest.raises(ProtocolViolation):
        SileroVad(sample_rate_hz=8000)


@pytest.mark.skipif(not HAS_TTS, reason="no espeak-ng/flite on PATH")
def test_silero_flags_real_speech_and_yields_one_utterance(tmp_path: Path) -> None:
    gate = VadGate(_silero())
    det = TurnDetector()
    events: list[object] = []
    for i, f in enumerate(frames(silence(1000) + synthesized_speech(tmp_path) + silence(1500), 640)):
        events += det.feed(gate.is_speech(f), f, i * 0.02)
    assert len([e for e in events if isinstance(e, UtteranceReady)]) == 1
