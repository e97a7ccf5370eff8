"""Realtime client configuration → the engine's settings. Pure functions (docs/protocol.md §Realtime).

``session_update(config, formats)`` maps a GA ``session.update`` onto the native ``session.update`` fields
plus what only Realtime adds (instructions, client tools, ``create_response``), and says which fields were
approximated. Turn detection: ``server_vad`` maps 1:1, the silence alone ending a turn (``threshold``
drives both the Silero score threshold and webrtcvad's aggressiveness, 0.5 ↔ 2); ``semantic_vad`` becomes
the engine's end of turn on words (how long a pause ends the turn depends on whether the words so far are a
complete question or an unfinished phrase), tuned by ``eagerness``; ``null`` is manual turn-taking
(``input_audio_buffer.commit``). A turn-detection object
sets every field it omits to the Realtime default, as OpenAI does.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from voice_letta.agent.ports import ToolChoice, ToolSpec
from voice_letta.agent.tools import client_tool_problem
from voice_letta.session import events as E
from voice_letta.session.realtime_out import Formats
from voice_letta.wire import native as W
from voice_letta.wire import realtime as R

DEFAULT_THRESHOLD = 0.5
DEFAULT_PREFIX_MS = 300
DEFAULT_SILENCE_MS = 500
SEMANTIC_SILENCE_MS = {"low": 1000, "medium": 600, "auto": 600, "high": 350}
#: semantic_vad's eagerness → (pause after a complete question, pause after an unfinished phrase), in ms
SEMANTIC_WORDS_MS = {"low": (600, 3000), "medium": (300, 1500), "auto": (300, 1500), "high": (200, 800)}

#: A new session: what an OpenAI Realtime session starts with.
DEFAULT_SESSION = R.SessionConfig(
    type="realtime", output_modalities=["audio"],
    audio=R.Audio(input=R.AudioInput(format=R.AudioFormat(type="audio/pcm", rate=R.PCM_RATE_HZ),
                                     turn_detection=R.TurnDetection(type="server_vad")),
                  output=R.AudioOutput(format=R.AudioFormat(type="audio/pcm", rate=R.PCM_RATE_HZ))))


def aggressiveness(threshold: float) -> int:
    """webrtcvad mode for a Realtime activation threshold (0..1): 0.5, the default, is our default 2."""
    return min(3, max(0, round(threshold * 3 + 0.01)))


def tool_specs(tools: list[R.FunctionTool], param: str) -> tuple[ToolSpec, ...]:
    specs = tuple(ToolSpec(name=t.name, description=t.description or "",
                           parameters=t.parameters or {"type": "object", "properties": {}}) for t in tools)
    if (problem := client_tool_problem(specs)) is not None:
        index, field, message = problem
        raise R.RealtimeViolation(f"Invalid value: {message}.", code="invalid_value", param=f"{param}.{index}.{field}")
    return specs


def tool_choice_of(value: object, param: str) -> ToolChoice:
    """A Realtime ``tool_choice`` ("auto", "none", "required" or ``{"type": "function", "name": …}``) for the
    response's first model call; a name no offered tool has leaves the model to choose (``agent/rounds.py``)."""
    if value in ("auto", "none", "required"):
        return str(value)
    if isinstance(value, dict) and value.get("type") == "function" and isinstance(value.get("name"), str) \
            and value["name"]:
        return str(value["name"])
    raise R.RealtimeViolation("Invalid value: tool_choice is 'auto', 'none', 'required' or "
                              "{\"type\": \"function\", \"name\": …}.", code="invalid_value", param=param)


def tool_echo(tools: list[R.FunctionTool]) -> list[dict[str, Any]]:
    return [{"type": "function", "name": t.name, "description": t.description or "",
             "parameters": t.parameters or {"type": "object", "properties": {}}} for t in tools]


def check_format(fmt: R.AudioFormat | None, param: str) -> None:
    if fmt is not None and fmt.type == "audio/pcm" and fmt.rate not in (None, R.PCM_RATE_HZ):
        raise R.RealtimeViolation(f"Invalid value: {fmt.rate}. audio/pcm is 24000 Hz only.", code="invalid_value",
                                  param=param)


def session_update(cfg: R.SessionConfig, formats: Formats, *, event_id: str) -> tuple[E.UpdateSession, Formats,
                                                                                       list[str]]:
    """The engine update, the adapter's formats after it, and notes on what was approximated."""
    notes: list[str] = []
    native: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    f = dataclasses.replace(formats)
    if cfg.output_modalities is not None:
        native["output_modalities"] = list(cfg.output_modalities)
    audio = cfg.audio
    if audio is not None and audio.input is not None:
        inp = audio.input
        check_format(inp.format, "session.audio.input.format")
        if inp.format is not None:
            f.input = inp.format.type
            native["input_sample_rate_hz"] = inp.format.sample_rate_hz()
        if inp.transcription is not None:
            f.transcription_model = inp.transcription.model or f.transcription_model
            f.transcription_language = inp.transcription.language
        if "turn_detection" in inp.model_fields_set:
            td = inp.turn_detection
            if td is None:  # the client commits, then asks for a response itself
                native["turn_mode"] = "push_to_talk"
                extra["auto_respond"] = False
            else:
                native["turn_mode"] = "server_vad"
                threshold = DEFAULT_THRESHOLD if td.threshold is None else td.threshold
                silence = td.silence_duration_ms or DEFAULT_SILENCE_MS
                f.turn_detection_type, f.eagerness = td.type, None
                words: dict[str, Any] = {"end_of_turn": "silence"}  # server_vad: the silence alone ends a turn
                if td.type == "semantic_vad":
                    f.eagerness = td.eagerness or "auto"
                    silence = SEMANTIC_SILENCE_MS[f.eagerness]
                    min_ms, max_ms = SEMANTIC_WORDS_MS[f.eagerness]
                    words = {"end_of_turn": "words", "min_silence_ms": min_ms, "max_silence_ms": max_ms}
                    notes.append(f"semantic_vad is served by end of turn on words: {min_ms} ms after a complete "
                                 f"question, {max_ms} ms after an unfinished phrase, else {silence} ms "
                                 f"(eagerness {f.eagerness})")
                interrupt = td.interrupt_response is not False
                native["vad"] = W.VadConfig(
                    threshold=threshold, aggressiveness=aggressiveness(threshold), silence_ms=silence,
                    prefix_padding_ms=DEFAULT_PREFIX_MS if td.prefix_padding_ms is None else td.prefix_padding_ms,
                    barge_in=interrupt, **words)
                extra["auto_respond"] = td.create_response is not False
    if audio is not None and audio.output is not None:
        out = audio.output
        check_format(out.format, "session.audio.output.format")
        if out.format is not None:
            f.output = out.format.type
            native["output_sample_rate_hz"] = out.format.sample_rate_hz()
        if out.voice is not None:
            f.voice = out.voice
            native["voice"] = out.voice
    if cfg.instructions is not None:
        extra["instructions"] = cfg.instructions
    if cfg.tools is not None:
        extra["tools"] = tool_specs(cfg.tools, "session.tools")
        f.tools = tool_echo(cfg.tools)
    if cfg.tool_choice is not None:
        extra["tool_choice"] = tool_choice_of(cfg.tool_choice, "session.tool_choice")
        f.tool_choice = cfg.tool_choice
    try:
        session = W.SessionConfigIn(**native)
    except ValueError as exc:  # pydantic ValidationError
        raise R.RealtimeViolation(f"Invalid session configuration: {exc}", code="invalid_value",
                                  param="session") from exc
    return E.UpdateSession(session, event_id=event_id, **extra), f, notes
