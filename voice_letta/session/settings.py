"""The settings of one voice session (``session.update``), with their defaults."""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass, field

from voice_letta.agent.ports import ToolChoice, ToolSpec
from voice_letta.agent.tools import DriverTool
from voice_letta.core.turns import TurnMode, VadParams
from voice_letta.errors import ProtocolViolation
from voice_letta.session import events as E
from voice_letta.session.events import Modality
from voice_letta.wire import native as W

DEFAULT_BARGE_IN_MIN_MS = 300


@dataclass(frozen=True, slots=True)
class Changed:
    agent: bool
    audio: bool  # the input pipeline must be rebuilt


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
    partial_transcripts: bool = True  # transcript.partial captions while the user speaks
    partial_interval_ms: int = 500  # of an open utterance's audio between two captions
    channel: str = ""  # how the user reaches the agent, for the greeting cue: " (a phone call)"
    driver_tools: tuple[DriverTool, ...] = ()  # tools the transport runs (a phone call's end_call)
    modalities: tuple[Modality, ...] = ("audio",)  # ("text",): no speech synthesis, words only
    # Set by richer protocols (Realtime) only:
    instructions: str | None = None
    client_tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = "auto"
    auto_respond: bool = True

    def apply(self, msg: E.UpdateSession, agent_id: str | None) -> Changed:
        """Validate a whole update, then apply it (all or nothing); ``agent_id`` is the resolved new agent."""
        new = msg.session
        vad = W.merge_vad(self.vad, new.vad)
        engine = (new.vad.engine if new.vad and new.vad.engine else None) or self.vad_engine
        if engine == "silero" and not _silero_possible():
            raise ProtocolViolation("Silero VAD is not available on this server (needs onnxruntime and "
                                    "faster-whisper's model)", code="vad_unavailable")
        # Everything is valid: apply it.
        agent_changed = agent_id is not None and agent_id != self.agent_id
        if agent_changed:
            self.agent_id = agent_id
        if new.output_sample_rate_hz is not None:
            self.output_rate_hz = new.output_sample_rate_hz
        if new.voice is not None:
            self.voice = new.voice
        if new.partial_transcripts is not None:
            self.partial_transcripts = new.partial_transcripts
        if new.output_modalities is not None:
            self.modalities = tuple(new.output_modalities)
        if msg.instructions is not None:
            self.instructions = msg.instructions or None
        if msg.tools is not None:
            self.client_tools = msg.tools
        if msg.tool_choice is not None:
            self.tool_choice = msg.tool_choice
        if msg.auto_respond is not None:
            self.auto_respond = msg.auto_respond
        if new.vad is not None:
            if new.vad.barge_in_min_ms is not None:
                self.barge_in_min_ms = new.vad.barge_in_min_ms
            if new.vad.barge_in is not None:
                self.barge_in = new.vad.barge_in
        audio_changed = (vad != self.vad or engine != self.vad_engine
                         or (new.input_sample_rate_hz or self.input_rate_hz) != self.input_rate_hz
                         or (new.turn_mode or self.turn_mode) != self.turn_mode)
        self.vad, self.vad_engine = vad, engine
        self.input_rate_hz = new.input_sample_rate_hz or self.input_rate_hz
        self.turn_mode = new.turn_mode or self.turn_mode
        return Changed(agent=agent_changed, audio=audio_changed)

    def snapshot(self) -> Settings:
        return dataclasses.replace(self)

    def state(self) -> W.SessionState:
        v = self.vad
        return W.SessionState(
            agent=self.agent_id, input_sample_rate_hz=self.input_rate_hz, output_sample_rate_hz=self.output_rate_hz,
            turn_mode=self.turn_mode, voice=self.voice, output_modalities=list(self.modalities),
            vad=W.VadState(engine=self.vad_engine, aggressiveness=v.aggressiveness, min_speech_ms=v.min_speech_ms,
                           silence_ms=v.silence_ms, prefix_padding_ms=v.prefix_padding_ms,
                           max_utterance_ms=v.max_utterance_ms, min_volume_dbfs=v.min_volume_dbfs,
                           threshold=v.threshold, barge_in_min_ms=self.barge_in_min_ms, barge_in=self.barge_in,
                           end_of_turn=v.end_of_turn, min_silence_ms=v.min_silence_ms,
                           max_silence_ms=v.max_silence_ms),
            partial_transcripts=self.partial_transcripts)


def _silero_possible() -> bool:
    from voice_letta.core.vad import default_silero_model_path

    return importlib.util.find_spec("onnxruntime") is not None and default_silero_model_path() is not None
