"""The settings of one voice session (``session.update``), with their defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from voice_letta.core.turns import TurnMode, VadParams
from voice_letta.wire import native as W

DEFAULT_BARGE_IN_MIN_MS = 300


@dataclass
class Settings:
    agent_id: str | None = None
    input_rate_hz: int = W.DEFAULT_INPUT_RATE_HZ
    output_rate_hz: int = W.DEFAULT_OUTPUT_RATE_HZ
    turn_mode: TurnMode = "server_vad"
    vad: VadParams = field(default_factory=VadParams)
    vad_engine: W.VadEngine = "webrtc"
    barge_in_min_ms: int = DEFAULT_BARGE_IN_MIN_MS
    barge_in: bool = True
    voice: str | None = None
    speculative_stt: bool = True

    def snapshot(self) -> Settings:
        return dataclasses.replace(self)

    def state(self) -> W.SessionState:
        v = self.vad
        return W.SessionState(
            agent=self.agent_id, input_sample_rate_hz=self.input_rate_hz, output_sample_rate_hz=self.output_rate_hz,
            turn_mode=self.turn_mode, voice=self.voice,
            vad=W.VadState(engine=self.vad_engine, aggressiveness=v.aggressiveness, min_speech_ms=v.min_speech_ms,
                           silence_ms=v.silence_ms, prefix_padding_ms=v.prefix_padding_ms,
                           max_utterance_ms=v.max_utterance_ms, min_volume_dbfs=v.min_volume_dbfs,
                           threshold=v.threshold, barge_in_min_ms=self.barge_in_min_ms, barge_in=self.barge_in))
