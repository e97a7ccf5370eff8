"""Per-frame speech scoring: a small ``VoiceDetector`` Protocol, two detectors, and a ``VadGate``.

- ``WebRtcVad``: webrtcvad (GMM, microseconds per frame); scores are 0.0 or 1.0.
- ``SileroVad``: optional, the Silero v6 ONNX model that faster-whisper ships
  (``faster_whisper/assets/silero_vad_v6.onnx``), run with onnxruntime imported lazily. The model takes
  512-sample windows at 16 kHz plus 64 samples of left context (input ``input`` [n, 576], recurrent state
  ``h``/``c`` [1, 1, 128]; outputs ``speech_probs``, ``hn``, ``cn``). Frames of 10/20/30 ms are buffered
  into 32 ms windows; the score is that of the newest window. About 2 ms of CPU per audio-second.
- ``VadGate``: turns a score into a bool: ``score >= threshold`` (with hysteresis while speaking) **and**
  RMS level ``>= min_volume_dbfs``, so near-silent noise never counts as speech whatever the model says.

No detector reads a clock; all are deterministic given the frames fed.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import webrtcvad

from voice_letta.core.audio import VALID_FRAME_MS
from voice_letta.core.codecs import pcm16_to_array, rms_dbfs
from voice_letta.errors import ProtocolViolation

if TYPE_CHECKING:
    from voice_letta.core.turns import VadParams

WEBRTC_RATES_HZ: tuple[int, ...] = (8000, 16000, 32000, 48000)


@runtime_checkable
class VoiceDetector(Protocol):
    """Scores one frame of PCM16 mono audio: 0.0 (no speech) .. 1.0 (speech)."""

    @property
    def sample_rate_hz(self) -> int: ...

    @property
    def frame_ms(self) -> int: ...

    def is_speech(self, frame: bytes) -> float: ...

    def reset(self) -> None: ...


def _check_frame(frame: bytes, expected_bytes: int, frame_ms: int, rate: int) -> None:
    if len(frame) != expected_bytes:
        raise ProtocolViolation(
            f"VAD frame must be exactly {frame_ms} ms ({expected_bytes} bytes at {rate} Hz), got {len(frame)}"
        )


class WebRtcVad:
    """webrtcvad behind ``VoiceDetector``. ``aggressiveness`` 0 (permissive) .. 3 (strict)."""

    __slots__ = ("_aggressiveness", "_frame_bytes", "_frame_ms", "_rate", "_vad")

    def __init__(self, aggressiveness: int = 2, sample_rate_hz: int = 16000, frame_ms: int = 20) -> None:
        if not 0 <= aggressiveness <= 3:
            raise ProtocolViolation(f"aggressiveness must be 0..3, got {aggressiveness}")
        if sample_rate_hz not in WEBRTC_RATES_HZ:
            raise ProtocolViolation(f"webrtcvad does not support {sample_rate_hz} Hz (8/16/32/48 kHz only)")
        if frame_ms not in VALID_FRAME_MS:
            raise ProtocolViolation(f"webrtcvad frames must be 10, 20 or 30 ms, got {frame_ms}")
        self._aggressiveness = aggressiveness
        self._rate = sample_rate_hz
        self._frame_ms = frame_ms
        self._frame_bytes = sample_rate_hz * frame_ms // 1000 * 2
        self._vad = webrtcvad.Vad(aggressiveness)

    @property
    def sample_rate_hz(self) -> int:
        return self._rate

    @property
    def frame_ms(self) -> int:
        return self._frame_ms

    def is_speech(self, frame: bytes) -> float:
        _check_frame(frame, self._frame_bytes, self._frame_ms, self._rate)
        return 1.0 if self._vad.is_speech(frame, self._rate) else 0.0

    def reset(self) -> None:
        self._vad = webrtcvad.Vad(self._aggressiveness)


def default_silero_model_path() -> Path | None:
    """Where faster-whisper keeps ``silero_vad_v6.onnx``, found without importing faster-whisper."""
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "assets" / "silero_vad_v6.onnx"
    return path if path.is_file() else None


class SileroVad:
    """Silero VAD v6 (ONNX) behind ``VoiceDetector``; 16 kHz only, keeps its recurrent state across frames.

    Raises ``ImportError`` without onnxruntime and ``FileNotFoundError`` without the model file; callers
    that treat Silero as optional catch both and fall back to ``WebRtcVad``.
    """

    WINDOW = 512
    CONTEXT = 64

    __slots__ = ("_c", "_context", "_frame_bytes", "_frame_ms", "_h", "_pending", "_prob", "_session")

    def __init__(
        self, model_path: str | Path | None = None, *, sample_rate_hz: int = 16000, frame_ms: int = 20
    ) -> None:
        if sample_rate_hz != 16000:
            raise ProtocolViolation(f"this Silero model runs at 16000 Hz only, got {sample_rate_hz}")
        if frame_ms not in VALID_FRAME_MS:
            raise ProtocolViolation(f"frame_ms must be 10, 20 or 30, got {frame_ms}")
        path = Path(model_path) if model_path is not None else default_silero_model_path()
        if path is None or not path.is_file():
            raise FileNotFoundError(f"Silero VAD model not found: {path}")
        ort: Any = importlib.import_module("onnxruntime")
        opts = ort.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        opts.enable_cpu_mem_arena = False
        opts.log_severity_level = 4
        self._session: Any = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"], sess_options=opts)
        names = {i.name for i in self._session.get_inputs()}
        if names != {"input", "h", "c"}:
            raise FileNotFoundError(f"unexpected Silero model inputs {sorted(names)} in {path}")
        self._frame_ms = frame_ms
        self._frame_bytes = 16000 * frame_ms // 1000 * 2
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(self.CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._prob = 0.0

    @property
    def sample_rate_hz(self) -> int:
        return 16000

    @property
    def frame_ms(self) -> int:
        return self._frame_ms

    def is_speech(self, frame: bytes) -> float:
        _check_frame(frame, self._frame_bytes, self._frame_ms, 16000)
        samples = pcm16_to_array(frame).astype(np.float32) / 32768.0
        self._pending = np.concatenate([self._pending, samples])
        while self._pending.size >= self.WINDOW:
            window = self._pending[: self.WINDOW]
            self._pending = self._pending[self.WINDOW :]
            self._prob = self._run(window)
        return self._prob

    def _run(self, window: npt.NDArray[np.float32]) -> float:
        x = np.concatenate([self._context, window])[np.newaxis, :]
        out, self._h, self._c = self._session.run(None, {"input": x, "h": self._h, "c": self._c})
        self._context = window[-self.CONTEXT :].copy()
        return float(np.asarray(out).reshape(-1)[0])

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(self.CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._prob = 0.0


class VadGate:
    """Score -> bool with an energy gate and hysteresis.

    A frame is speech iff ``rms_dbfs(frame) >= min_volume_dbfs`` and ``score >= threshold``; after a speech
    frame the threshold drops by ``hysteresis`` (LiveKit uses 0.15) until a non-speech frame. For webrtcvad
    scores are 0/1, so only the energy gate matters there. ``last_score``/``last_dbfs`` aid debugging.
    """

    __slots__ = ("_detector", "_hysteresis", "_min_volume_dbfs", "_speaking", "_threshold", "last_dbfs", "last_score")

    def __init__(
        self,
        detector: VoiceDetector,
        *,
        threshold: float = 0.5,
        min_volume_dbfs: float = -50.0,
        hysteresis: float = 0.15,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        self._detector = detector
        self._threshold = threshold
        self._min_volume_dbfs = min_volume_dbfs
        self._hysteresis = hysteresis
        self._speaking = False
        self.last_score = 0.0
        self.last_dbfs = float("-inf")

    @classmethod
    def from_params(
        cls,
        params: VadParams,
        *,
        sample_rate_hz: int = 16000,
        frame_ms: int = 20,
        detector: VoiceDetector | None = None,
    ) -> VadGate:
        """A gate over ``detector`` (default ``WebRtcVad(params.aggressiveness, ...)``)."""
        det = detector or WebRtcVad(params.aggressiveness, sample_rate_hz, frame_ms)
        return cls(det, threshold=params.threshold, min_volume_dbfs=params.min_volume_dbfs)

    @property
    def detector(self) -> VoiceDetector:
        return self._detector

    @property
    def sample_rate_hz(self) -> int:
        return self._detector.sample_rate_hz

    @property
    def frame_ms(self) -> int:
        return self._detector.frame_ms

    def is_speech(self, frame: bytes) -> bool:
        self.last_dbfs = rms_dbfs(frame)
        # The model always runs so that a recurrent detector's state follows the audio.
        self.last_score = self._detector.is_speech(frame)
        threshold = self._threshold - self._hysteresis if self._speaking else self._threshold
        self._speaking = self.last_dbfs >= self._min_volume_dbfs and self.last_score >= threshold
        return self._speaking

    def reset(self) -> None:
        self._detector.reset()
        self._speaking = False
        self.last_score = 0.0
        self.last_dbfs = float("-inf")
